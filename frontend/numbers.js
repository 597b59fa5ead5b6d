// Numbers typed by a person. Number("") is 0 and a number input turns "abc" into "", so
// the page reads text itself: a finite decimal number, or a message saying what is wrong.

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** text -> {value} or {error}; min and max (optional) bound the value. */
export function parseNumber(text, { min, max } = {}) {
  const t = String(text).trim();
  if (!t) return { error: "type a number" };
  const value = Number(t);
  if (!DECIMAL.test(t)) return { error: `"${t}" is not a number` };
  if (!Number.isFinite(value)) return { error: `"${t}" is too large` };
  if (min != null && value < min) return { error: `at least ${min}` };
  if (max != null && value > max) return { error: `at most ${max}` };
  return { value };
}

/**
 * A text input for a number, with its message next to it: `commit(value)` runs only for
 * a good number; anything else is refused where it was typed and nothing is sent.
 */
export function numberInput(input, message, bounds, commit) {
  input.type = "text";
  input.inputMode = "decimal";
  input.autocomplete = "off";
  input.spellcheck = false;
  const show = (error) => {
    message.textContent = error || "";
    message.hidden = !error;
    input.setAttribute("aria-invalid", String(Boolean(error)));
  };
  input.addEventListener("input", () => show(""));
  show("");
  return () => {
    const { value, error } = parseNumber(input.value, bounds());
    show(error);
    if (error) { input.focus(); return false; }
    commit(value);
    return true;
  };
}

/**
 * A number for people to read at a glance: `digits` decimals in the usual range, and one
 * decimal of scientific notation beyond it (a diverged loss is 1.0e+32, not 33 digits).
 */
export function compact(v, digits = 3) {
  if (v == null || !Number.isFinite(v)) return "-";
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 10 ** -digits)) return v.toExponential(1);
  return v.toFixed(digits);
}
