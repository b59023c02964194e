// The page's entry: read the session (or go to the login page), show who is signed in, and
// start the page the server rendered (body[data-page]).
import { ApiError, isAdmin, loadSession, logout } from "./api.js";
import { notice, rewordTimes } from "./format.js";

const PAGES = {
  jobs: () => import("./jobs.js"),
  activity: () => import("./activity.js"),
  run: () => import("./run.js"),
  timeline: () => import("./timeline.js"),
  limiters: () => import("./limiters.js"),
  nodes: () => import("./nodes.js"),
  login: () => import("./login.js"),
};

async function start() {
  const page = document.body.dataset.page;
  if (page !== "login") {
    try {
      const session = await loadSession();
      document.body.classList.add(isAdmin() ? "admin" : "viewer");
      document.getElementById("role").textContent =
        session.role === "admin" ? "admin" : "viewer (read only)";
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return; // going to login
      notice(`The API did not answer: ${error.message}`);
      return;
    }
    document.getElementById("logout").addEventListener("click", async () => {
      await logout();
      location.assign("login");
    });
    setInterval(rewordTimes, 20000);
  }
  const module = await PAGES[page]();
  await module.start();
}

start();
