// An axe-style check, offline (tests/e2e/test_page_language.py runs it in the page): text
// contrast (WCAG 1.4.3: 4.5:1, 3:1 for large text) against the first opaque background
// behind it, and target size (WCAG 2.5.8: 24 x 24 CSS px) of every control, links inside
// running text excepted. Returns the problems found, as sentences.
const rgb = (s) => {
  const m = /rgba?\(([^)]+)\)/.exec(s);
  if (!m) return null;
  const p = m[1].split(",").map(Number);
  return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
};
const lum = (c) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
};
const behind = (e) => {
  for (; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0.9) return c;
  }
  return { r: 255, g: 255, b: 255, a: 1 };
};
const shown = (e) => e.getClientRects().length && getComputedStyle(e).visibility !== "hidden";
const problems = [];
for (const e of document.body.querySelectorAll("*")) {
  const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || !shown(e) || e.closest(".visually-hidden, :disabled, option, [hidden]")) continue;
  const style = getComputedStyle(e);
  const a = lum(rgb(style.color)), b = lum(behind(e));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
  const needed = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
  if (ratio < needed) problems.push(`contrast ${ratio.toFixed(2)} < ${needed}: ${e.tagName}.${e.className} "${e.textContent.trim().slice(0, 40)}"`);
}
for (const e of document.body.querySelectorAll("button, select, summary, a, input:not([type=file])")) {
  if (!shown(e) || e.closest(".visually-hidden") || (e.tagName === "A" && e.closest("p, li"))) continue;
  const r = e.getBoundingClientRect();
  if (r.width < 24 || r.height < 24) problems.push(`target ${r.width.toFixed(0)}x${r.height.toFixed(0)}: ${e.tagName}#${e.id}.${e.className} "${e.textContent.trim().slice(0, 30)}"`);
}
return problems;
