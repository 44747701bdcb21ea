// Renders a run folder (docs/run-folder.md) as one self-contained HTML page.
