import { CONTROL_STREAM, controlDecider, type ControlState } from '@optex/domain';
import type { EventStore } from '@optex/ports';

/**
 * Whether execution is paused now (and by whom, since when, why): the kill switch as the log says it. Its state is its
 * last event (paused or resumed; nothing before it matters), so one event is read, however long the stream.
 */
export async function executionControlState(store: EventStore): Promise<ControlState> {
  const [last] = await store.readStream(CONTROL_STREAM, { direction: 'backwards', maxCount: 1 });
  return last ? controlDecider.evolve(controlDecider.initialState(), controlDecider.parse(last)) : controlDecider.initialState();
}
