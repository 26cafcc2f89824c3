"""Business-free helpers shared by every module: errors, ids, time, pagination, i18n."""
