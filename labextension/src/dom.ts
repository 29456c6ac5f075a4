/**
 * Small DOM helpers the panels share.
 */

/**
 * A new `tag` element with `className`, holding `text` when there is any.
 */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text) {
    node.textContent = text;
  }
  return node;
}
