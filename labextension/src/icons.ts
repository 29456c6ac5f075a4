/**
 * Icons of the block commands and panels.
 */

import { LabIcon } from '@jupyterlab/ui-components';

const svg = (body: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">` +
  `<g class="jp-icon3" fill="#616161">${body}</g></svg>`;

export const dagIcon = new LabIcon({
  name: 'jupyter-blocks:dag',
  svgstr: svg(
    '<rect x="9" y="2" width="6" height="5" rx="1"/><rect x="2" y="17" width="6" height="5" rx="1"/>' +
      '<rect x="16" y="17" width="6" height="5" rx="1"/>' +
      '<path d="M11.25 7h1.5v4h6.5v6h-1.5v-4.5h-11V17h-1.5v-6h6z"/>'
  )
});

export const runUpstreamIcon = new LabIcon({
  name: 'jupyter-blocks:run-upstream',
  svgstr: svg('<path d="M9 5v14l11-7z"/><rect x="3" y="4" width="3" height="3" rx="0.5"/><rect x="3" y="10.5" width="3" height="3" rx="0.5"/>')
});

export const runDownstreamIcon = new LabIcon({
  name: 'jupyter-blocks:run-downstream',
  svgstr: svg('<path d="M4 5v14l11-7z"/><path d="M16 6h2v12h-2z"/><path d="M19.5 6h2v12h-2z"/>')
});

export const runPipelineIcon = new LabIcon({
  name: 'jupyter-blocks:run-pipeline',
  svgstr: svg('<path d="M3 5v14l9-7zM12 5v14l9-7z"/>')
});

export const exportIcon = new LabIcon({
  name: 'jupyter-blocks:export',
  svgstr: svg('<path d="M5 20h14v-2H5zm7-18-5.5 5.5 1.42 1.42L11 5.84V16h2V5.84l3.08 3.08 1.42-1.42z"/>')
});

export const runsIcon = new LabIcon({
  name: 'jupyter-blocks:runs',
  svgstr: svg(
    '<path d="M13 3a9 9 0 0 0-9 9H1l3.89 3.89.07.14L9 12H6a7 7 0 1 1 2.05 4.95l-1.42 1.42A9 9 0 1 0 13 3zm-1 5v5l4.25 2.52.77-1.28-3.52-2.09V8z"/>'
  )
});
