// A tiny element builder: enough to avoid a framework, and never innerHTML with data.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

// Today's times without the date; the full date and time on hover either way.
export function timeEl(iso) {
  const d = new Date(iso);
  const today = d.toDateString() === new Date().toDateString();
  const text = today
    ? d.toLocaleTimeString(undefined, { timeStyle: "short" })
    : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  return h("time", { datetime: iso, title: d.toLocaleString() }, text);
}

const status = () => document.getElementById("status");

export function say(text, isError = false) {
  const el = status();
  el.textContent = text;
  el.classList.toggle("error", isError);
}

// Run an action, showing its error in the status line instead of losing it in the console.
export async function attempt(action) {
  try {
    return await action();
  } catch (error) {
    say(error.message, true);
    return undefined;
  }
}
