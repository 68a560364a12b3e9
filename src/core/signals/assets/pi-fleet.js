// fleet's extension for pi: tells fleet what this pi is doing, so that
// `fleet ps` reads pi's own word instead of guessing from its screen.
// Loaded per launch (`pi -e THIS_FILE`); never installed into pi's config.
// It only writes (`fleet __hook pi EVENT`), in order, and never blocks pi.
import { spawn } from "node:child_process";

const exe = process.env.FLEET_EXE;
const agent = process.env.FLEET_AGENT;
let queue = Promise.resolve();

function tell(event, detail) {
  if (!exe || !agent) return;
  const payload = JSON.stringify({ event, detail: detail ?? "" });
  queue = queue.then(
    () =>
      new Promise((done) => {
        try {
          const child = spawn(exe, ["__hook", "pi", payload], { stdio: "ignore" });
          child.on("error", done);
          child.on("exit", done);
        } catch {
          done();
        }
      }),
  );
}

// The error that ended a prompt, if it ended in one (no API key, a refused
// request): pi then waits for a human.
function failure(messages) {
  const last = Array.isArray(messages) ? messages[messages.length - 1] : undefined;
  if (last && (last.stopReason === "error" || last.errorMessage)) {
    return String(last.errorMessage ?? "error");
  }
  return undefined;
}

export default function (pi) {
  pi.on("session_start", async () => tell("session_start"));
  pi.on("agent_start", async () => tell("agent_start"));
  pi.on("tool_execution_start", async (event) => tell("tool_execution_start", event?.toolName));
  pi.on("agent_end", async (event) => {
    const error = failure(event?.messages);
    tell(error ? "agent_error" : "agent_end", error);
  });
}
