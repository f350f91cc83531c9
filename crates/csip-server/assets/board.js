// The Strategic Alignment Board's drag and drop: drop a card on another
// column and its own move form (the keyboard path) is submitted with that
// column's status. Delegated, so cards swapped in live keep working.
document.addEventListener("dragstart", (e) => {
  const card = e.target.closest && e.target.closest("article.objective");
  if (card && card.querySelector("form.move")) e.dataTransfer.setData("text/plain", card.id);
});
document.addEventListener("dragover", (e) => {
  if (e.target.closest && e.target.closest("section.column")) e.preventDefault();
});
document.addEventListener("drop", (e) => {
  const column = e.target.closest && e.target.closest("section.column");
  const card = column && document.getElementById(e.dataTransfer.getData("text/plain"));
  const form = card && card.querySelector("form.move");
  if (!form || card.closest("section.column") === column) return;
  e.preventDefault();
  form.elements.status.value = column.dataset.status;
  form.submit();
});
