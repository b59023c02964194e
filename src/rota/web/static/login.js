// The login page: post the token; the server sets the session cookie and gives the role.
import { ApiError, login } from "./api.js";

// Only a path inside the app: never another site (an open redirect).
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return /^[a-z0-9/_?=&%.-]*$/i.test(next) && !next.startsWith("/") && !next.includes("//")
    ? next || "./"
    : "./";
}

export async function start() {
  const form = document.getElementById("login-form");
  const input = document.getElementById("token");
  const error = document.getElementById("token-error");
  input.focus();
  // Enabled only now: a click before this script runs must not submit the form natively.
  document.getElementById("sign-in").disabled = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    if (!input.value.trim()) {
      error.textContent = "Give a token.";
      input.setAttribute("aria-invalid", "true");
      return;
    }
    try {
      await login(input.value.trim());
      location.assign(nextPage());
    } catch (e) {
      input.setAttribute("aria-invalid", "true");
      if (e instanceof ApiError && e.status === 401) error.textContent = "That token is not known.";
      else if (e instanceof ApiError && e.status === 429)
        error.textContent = "Too many tries: wait a minute and try again.";
      else error.textContent = `Could not sign in: ${e.message}`;
      input.select();
    }
  });
}
