/**
 * The ids of the block commands (shared by the command definitions, the toolbar and the panels).
 */

export namespace CommandIDs {
  export const runWithUpstreams = 'jupyter-blocks:run-with-upstreams';
  export const runDownstream = 'jupyter-blocks:run-downstream';
  export const runPipeline = 'jupyter-blocks:run-pipeline';
  export const showInDag = 'jupyter-blocks:show-in-dag';
  export const exportPipeline = 'jupyter-blocks:export';
  export const openDag = 'jupyter-blocks:open-dag';
  export const openRuns = 'jupyter-blocks:open-runs';
}
