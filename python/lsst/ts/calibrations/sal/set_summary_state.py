# This file is part of ts_calibrations.
#
# Developed for the Vera C. Rubin Observatory Telescope and Site Systems.
# This product includes software developed by the LSST Project
# (https://www.lsst.org).
# See the COPYRIGHT file at the top-level directory of this distribution
# for details of code ownership.
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <https://www.gnu.org/licenses/>.

"""Command a CSC to a summary state, walking the state graph."""

__all__ = ["get_expected_summary_states", "make_state_transition_dict", "set_summary_state"]

from typing import Any

from .base import State

# Command that takes a CSC from a state one step towards ENABLED or OFFLINE.
_UP_COMMANDS = {State.OFFLINE: "enterControl", State.STANDBY: "start", State.DISABLED: "enable"}
_DOWN_COMMANDS = {
    State.ENABLED: "disable",
    State.DISABLED: "standby",
    State.FAULT: "standby",
    State.STANDBY: "exitControl",
}
# Rank along OFFLINE → STANDBY → DISABLED → ENABLED.
_RANK = {State.OFFLINE: 0, State.STANDBY: 1, State.DISABLED: 2, State.ENABLED: 3}

StateTransitionDictType = dict[tuple[State, State], list[tuple[str, State]]]


def make_state_transition_dict() -> StateTransitionDictType:
    """Return the transition commands between every pair of summary states.

    Returns
    -------
    transitions : `dict` [`tuple` [`State`, `State`], `list` [`tuple` [`str`, `State`]]]
        For each (from state, to state) with "to" not FAULT: the list of
        (command, state after the command) that leads there; empty if
        the two are the same. From FAULT the first command is ``standby``.
    """
    transitions: StateTransitionDictType = {}
    for begin in (*_RANK, State.FAULT):
        for end in _RANK:
            steps: list[tuple[str, State]] = []
            current = begin
            while current != end:
                if current == State.FAULT or _RANK[current] > _RANK[end]:
                    command = _DOWN_COMMANDS[current]
                    current = State.STANDBY if current == State.FAULT else _step(current, -1)
                else:
                    command = _UP_COMMANDS[current]
                    current = _step(current, +1)
                steps.append((command, current))
            transitions[(begin, end)] = steps
    return transitions


def get_expected_summary_states(initial_state: State | int, final_state: State | int) -> list[State]:
    """Return the summary states a CSC passes through from one state to another.

    Parameters
    ----------
    initial_state : `State` or `int`
        Starting state.
    final_state : `State` or `int`
        Final state (not FAULT).

    Returns
    -------
    states : `list` [`State`]
        ``initial_state``, then the state after each transition command.

    Raises
    ------
    ValueError
        If a state is not a `State`, or ``final_state`` is FAULT.
    """
    begin, end = State(initial_state), State(final_state)
    if end == State.FAULT:
        raise ValueError("final_state cannot be FAULT")
    return [begin] + [state for _, state in make_state_transition_dict()[(begin, end)]]


async def set_summary_state(
    remote: Any, state: State | int, override: str | None = "", timeout: float = 30
) -> list[State]:
    """Put a CSC in a summary state, sending the commands needed.

    Parameters
    ----------
    remote : `Remote`
        Remote of the CSC (not readonly, reading ``summaryState``).
    state : `State`
        Desired summary state; not FAULT.
    override : `str` or `None`, optional
        Configuration override for the ``start`` command, if sent; None
        means "".
    timeout : `float`, optional
        Time limit (seconds) for reading the current state and for each
        command.

    Returns
    -------
    states : `list` [`State`]
        The current state and then the state after each command sent.

    Raises
    ------
    ValueError
        If ``state`` is FAULT or not a summary state.
    AckError
        If a command fails.
    TimeoutError
        If the current state cannot be read in time (`AckTimeoutError` if a
        command times out).
    """
    try:
        target = State(state)
    except ValueError:
        raise ValueError(f"state={state!r} is not a summary state") from None
    if target == State.FAULT:
        raise ValueError("state=FAULT cannot be commanded; a CSC goes to FAULT by itself")
    if override is None:
        override = ""
    current = State((await remote.evt_summaryState.aget(timeout=timeout)).summaryState)
    states = [current]
    while current != target:
        if current == State.FAULT or _RANK[current] > _RANK[target]:
            command = _DOWN_COMMANDS[current]
            next_state = State.STANDBY if current == State.FAULT else _step(current, -1)
        else:
            command = _UP_COMMANDS[current]
            next_state = _step(current, +1)
        kwargs = {"configurationOverride": override} if command == "start" else {}
        await getattr(remote, f"cmd_{command}").set_start(timeout=timeout, **kwargs)
        current = next_state
        states.append(current)
    return states


def _step(state: State, direction: int) -> State:
    rank = _RANK[state] + direction
    return next(s for s, r in _RANK.items() if r == rank)
