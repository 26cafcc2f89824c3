// Progressive enhancement: GOV.UK Frontend components and the CSRF header for HTMX requests.
import { initAll } from "./vendor/govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

const csrf = document.querySelector('meta[name="csrf-token"]');
document.body.addEventListener("htmx:configRequest", (event) => {
  if (csrf) event.detail.headers["X-CSRF-Token"] = csrf.content;
});

// Count down any element with data-countdown-until (an ISO time), e.g. a QR code's validity.
for (const el of document.querySelectorAll("[data-countdown-until]")) {
  const until = Date.parse(el.dataset.countdownUntil);
  const tick = () => {
    const left = Math.max(0, Math.round((until - Date.now()) / 1000));
    el.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    if (left > 0) setTimeout(tick, 1000);
  };
  tick();
}
