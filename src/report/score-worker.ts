// A report scoring thread (ScorePool): scores the parts of chunks it is sent and posts their per-position figures back.
import { parentPort } from 'node:worker_threads';
import { scorePositions, type ScoreTask } from './score.js';

parentPort!.on('message', (task: ScoreTask) => {
  try {
    const scores = scorePositions(task);
    parentPort!.postMessage({ scores }, [scores.annLogp, scores.snnLogp, scores.agree, scores.kl].map((a) => a.buffer as ArrayBuffer));
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).message });
  }
});
