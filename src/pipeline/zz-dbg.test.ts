import { it } from 'vitest';
import { segment } from '/work/main/src/pipeline/run';
import { cylinderPhantom, tinyManifest, tinyModelReference } from '/work/main/src/pipeline/synthetic';
it('dbg', async () => {
  const g = { dimensions: [100, 110, 40], spacing: [2.5, 2, 4], origin: [-123.75, -109, -78], direction: [1,0,0,0,1,0,0,0,1] } as any;
  const { ct } = cylinderPhantom(g);
  ct.data.fill(-100);
  const res = await segment(ct, tinyManifest(), tinyModelReference);
  console.log(JSON.stringify(res.steps.map(s => s.summary)));
});
