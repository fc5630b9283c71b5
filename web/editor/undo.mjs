// Undo and redo of the edits not yet saved: a list of states (the parcel's geometry and
// properties as edited) with a cursor. Pure: it holds values, the caller applies them.

/** The history starting at `initial`: `push`, `undo`, `redo` (each returns the state now in force). */
export function createUndo(initial) {
  let states = [initial];
  let at = 0;
  return {
    get current() { return states[at]; },
    get canUndo() { return at > 0; },
    get canRedo() { return at < states.length - 1; },
    /** Whether anything was changed since the start (or the last reset). */
    get dirty() { return at > 0; },
    push(state) {
      states = states.slice(0, at + 1);
      states.push(state);
      at = states.length - 1;
      return states[at];
    },
    undo() { if (at > 0) at -= 1; return states[at]; },
    redo() { if (at < states.length - 1) at += 1; return states[at]; },
    reset(state) { states = [state]; at = 0; return state; },
  };
}
