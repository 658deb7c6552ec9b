// A synapse planning thread (prepareSynapsePlans): plans each synapse it is sent and posts the plan back, its planes moved.
import { serveTasks } from '../util/worker-pool.js';
import { planSynapse, type SynapseInput } from './synapse.js';

serveTasks((task: SynapseInput) => {
  const plan = planSynapse(task, task.maxCount);
  return { result: plan, transfer: plan ? [...plan.synapse.planes, plan.synapse.scale].map((a) => a.buffer as ArrayBuffer) : [] };
});
