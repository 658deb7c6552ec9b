// A report scoring thread (ScorePool): scores the parts of chunks it is sent and posts their per-position figures back.
import { serveTasks } from '../util/worker-pool.js';
import { scorePositions, type ScoreTask } from './score.js';

serveTasks((task: ScoreTask) => {
  const scores = scorePositions(task);
  return { result: scores, transfer: [scores.annLogp, scores.snnLogp, scores.agree, scores.kl].map((a) => a.buffer as ArrayBuffer) };
});
