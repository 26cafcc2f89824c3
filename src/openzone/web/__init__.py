"""Page shell shared by every module: templates, layout, middleware, error pages and static files."""

from openzone.web.templating import add_template_dir, form_errors, render

__all__ = ["add_template_dir", "form_errors", "render"]
