"""The batch engine: judge a batch of transfers against in-memory account state.

Pure: the caller loads the accounts, the transfers with colliding ids and the pending
transfers the batch refers to, then writes what `apply_transfers` returns, all inside one
database transaction. Linked chains are applied with an undo log and rolled back whole when
any member fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rongpay.ledger.types import (
    A_CREDITS_LIMIT,
    A_DEBITS_LIMIT,
    A_HISTORY,
    MAX_AMOUNT,
    NS,
    T_PENDING,
    T_POST,
    T_VOID,
    Account,
    CreateAccountResult,
    CreateTransferResult,
    PendingState,
    Transfer,
)

R = CreateTransferResult
# Account state: [ledger, flags, debits_pending, debits_posted, credits_pending, credits_posted]
DP, DPO, CP, CPO = 2, 3, 4, 5
DEFAULT_TRANSFER_CODE = "transfer"
# id, debit, credit, amount, ledger, code, flags, pending_id, timeout, user_data, timestamp
TransferRow = tuple[str, str, str, int, str, str, int, str | None, int, str | None, int]


@dataclass(slots=True)
class Pending:
    """A pending transfer and what became of it."""

    transfer: Transfer
    state: PendingState
    expires_at: int | None  # ns since the epoch; None = never


@dataclass(slots=True)
class BatchState:
    """What the batch may read, loaded by the caller for exactly this batch."""

    accounts: dict[str, list[object]]
    existing: dict[str, Transfer]
    pending: dict[str, Pending]


@dataclass(slots=True)
class BatchWrites:
    """What the caller must write, in the same transaction, when the batch commits."""

    transfers: list[TransferRow] = field(default_factory=list)  # in store.TRANSFER_COLS order
    new_pending: list[Pending] = field(default_factory=list)
    touched_accounts: set[str] = field(default_factory=set)
    history: list[tuple[str, int, int, int, int, int]] = field(default_factory=list)


@dataclass(slots=True)
class _Chain:
    """Undo log of the linked chain being applied."""

    balances: list[tuple[list[object], int, int, int, int]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    pending_states: list[tuple[Pending, PendingState]] = field(default_factory=list)
    new_pending: int = 0
    history: int = 0

    def remember(self, *accounts: list[object]) -> None:
        for a in accounts:
            self.balances.append((a, a[DP], a[DPO], a[CP], a[CPO]))  # type: ignore[arg-type]


def same_transfer(given: Transfer, stored: Transfer) -> bool:
    """Whether a replayed transfer asks for exactly what was stored (None = not given)."""
    if given.flags != stored.flags or given.pending_id != stored.pending_id:
        return False
    if given.timeout != stored.timeout or given.user_data != stored.user_data:
        return False
    two_phase = given.flags & (T_POST | T_VOID)
    code = given.code if two_phase else given.code or DEFAULT_TRANSFER_CODE
    if code != stored.code and code is not None:
        return False
    # An omitted ledger means "the accounts' ledger"; on post/void, omitted accounts mean
    # "the pending transfer's".
    if given.ledger != stored.ledger and given.ledger is not None:
        return False
    for mine, theirs in (
        (given.debit_account_id, stored.debit_account_id),
        (given.credit_account_id, stored.credit_account_id),
    ):
        if mine != theirs and not (two_phase and mine is None):
            return False
    if two_phase and given.amount == 0:
        return True
    return given.amount == stored.amount


def _is_replay(given: Transfer, stored: Transfer, state: BatchState) -> bool:
    """same_transfer, and a post that omits its amount ("all of it") replays only a full post."""
    if not same_transfer(given, stored):
        return False
    if given.flags & T_POST and given.amount == 0 and given.pending_id is not None:
        pending = state.existing.get(given.pending_id)
        return pending is not None and pending.amount == stored.amount
    return True


def chains(linked: list[bool]) -> list[tuple[int, int]]:
    """[start, end) index ranges of events that commit together; an open chain ends the list."""
    spans, start = [], 0
    for i, is_linked in enumerate(linked):
        if not is_linked:
            spans.append((start, i + 1))
            start = i + 1
    if start < len(linked):
        spans.append((start, len(linked)))
    return spans


def apply_transfers(
    items: list[tuple[Transfer | None, R, bool]],
    state: BatchState,
    writes: BatchWrites,
    clock: list[int],
) -> list[R]:
    """Judge every item in order against STATE; add what to write to WRITES.

    `clock` holds the next timestamp to give (ns); it advances by one per created transfer.
    Several calls may share one state, writes and clock: that is how group commit folds
    many clients' batches into one database transaction without joining their chains.
    """
    results: list[R] = [R.ok] * len(items)
    for start, end in chains([linked for _, _, linked in items]):
        if end - start == 1 and not items[start][2]:
            # A lone event mutates nothing unless it succeeds: no undo log needed.
            transfer, shape_result, _ = items[start]
            if transfer is not None:
                shape_result = _apply_one(transfer, state, writes, None, clock)
            results[start] = shape_result
            continue
        chain = _Chain()
        failed_at = -1
        for i in range(start, end):
            transfer, shape_result, _ = items[i]
            if transfer is None:
                result = shape_result
            else:
                result = _apply_one(transfer, state, writes, chain, clock)
            results[i] = result
            if result is not R.ok and result is not R.exists:
                failed_at = i
                break
        if failed_at < 0 and items[end - 1][2]:
            failed_at = end - 1
            results[failed_at] = R.linked_event_chain_open
        if failed_at >= 0:
            _undo(chain, state, writes)
            for i in range(start, end):
                if i != failed_at:
                    results[i] = R.linked_event_failed
    return results


def resolved_pending(writes: BatchWrites, state: BatchState) -> dict[str, PendingState]:
    """The final state of every pending transfer this batch posted or voided."""
    return {
        row[7]: state.pending[row[7]].state
        for row in writes.transfers
        if row[6] & (T_POST | T_VOID) and row[7] is not None
    }


def _undo(chain: _Chain, state: BatchState, writes: BatchWrites) -> None:
    for acct, dp, dpo, cp, cpo in reversed(chain.balances):
        acct[DP], acct[DPO], acct[CP], acct[CPO] = dp, dpo, cp, cpo
    for tid in chain.created:
        state.existing.pop(tid, None)
        state.pending.pop(tid, None)
    for pending, old in reversed(chain.pending_states):
        pending.state = old
    del writes.transfers[len(writes.transfers) - len(chain.created) :]
    del writes.new_pending[len(writes.new_pending) - chain.new_pending :]
    del writes.history[len(writes.history) - chain.history :]


def _apply_one(
    t: Transfer, state: BatchState, writes: BatchWrites, chain: _Chain | None, clock: list[int]
) -> R:
    stored = state.existing.get(t.id)
    if stored is not None:
        return R.exists if _is_replay(t, stored, state) else R.exists_with_different_fields
    timestamp = clock[0]
    if t.flags & (T_POST | T_VOID):
        result, t = _resolve_pending(t, state, chain, timestamp)
    else:
        result, t = _move(t, state, chain, timestamp)
    if result is not R.ok:
        return result
    clock[0] = timestamp + 1
    state.existing[t.id] = t
    writes.transfers.append((*t[:10], timestamp))  # type: ignore[arg-type]
    if chain is not None:
        chain.created.append(t.id)
    if t.flags & T_PENDING:
        _hold(t, timestamp, state, writes, chain)
    debit_id, credit_id = t.debit_account_id, t.credit_account_id
    assert debit_id is not None and credit_id is not None
    writes.touched_accounts.add(debit_id)
    writes.touched_accounts.add(credit_id)
    dr, cr = state.accounts[debit_id], state.accounts[credit_id]
    if (dr[1] | cr[1]) & A_HISTORY:  # type: ignore[operator]
        for aid, acct in ((debit_id, dr), (credit_id, cr)):
            if acct[1] & A_HISTORY:  # type: ignore[operator]
                writes.history.append((aid, timestamp, *acct[2:6]))  # type: ignore[arg-type]
                if chain is not None:
                    chain.history += 1
    return R.ok


def _hold(
    t: Transfer, timestamp: int, state: BatchState, writes: BatchWrites, chain: _Chain | None
) -> None:
    """Remember a new pending transfer until it is posted, voided or expires."""
    expires = timestamp + t.timeout * NS if t.timeout else None
    pending = Pending(t, PendingState.pending, expires)
    state.pending[t.id] = pending
    writes.new_pending.append(pending)
    if chain is not None:
        chain.new_pending += 1


def _move(
    t: Transfer, state: BatchState, chain: _Chain | None, timestamp: int
) -> tuple[R, Transfer]:
    assert t.debit_account_id is not None and t.credit_account_id is not None
    dr = state.accounts.get(t.debit_account_id)
    if dr is None:
        return R.debit_account_not_found, t
    cr = state.accounts.get(t.credit_account_id)
    if cr is None:
        return R.credit_account_not_found, t
    if dr[0] != cr[0]:
        return R.accounts_must_have_same_ledger, t
    if t.ledger is not None and t.ledger != dr[0]:
        return R.transfer_must_have_the_same_ledger_as_accounts, t
    result = _post_amount(t, dr, cr, chain)
    if result is R.ok and (t.ledger is None or t.code is None):
        t = t._replace(ledger=str(dr[0]), code=t.code or DEFAULT_TRANSFER_CODE)
    return result, t


def _post_amount(t: Transfer, dr: list[object], cr: list[object], chain: _Chain | None) -> R:
    amount = t.amount
    slot_d, slot_c = (DP, CP) if t.flags & T_PENDING else (DPO, CPO)
    if dr[slot_d] + amount > MAX_AMOUNT:  # type: ignore[operator]
        return R.overflows_debits
    if cr[slot_c] + amount > MAX_AMOUNT:  # type: ignore[operator]
        return R.overflows_credits
    if dr[1] & A_DEBITS_LIMIT and dr[DP] + dr[DPO] + amount > dr[CPO]:  # type: ignore[operator]
        return R.exceeds_credits
    if cr[1] & A_CREDITS_LIMIT and cr[CP] + cr[CPO] + amount > cr[DPO]:  # type: ignore[operator]
        return R.exceeds_debits
    if chain is not None:
        chain.remember(dr, cr)
    dr[slot_d] += amount  # type: ignore[operator]
    cr[slot_c] += amount  # type: ignore[operator]
    return R.ok


def _check_pending(t: Transfer, p: Pending, timestamp: int) -> R:
    pt = p.transfer
    if t.debit_account_id is not None and t.debit_account_id != pt.debit_account_id:
        return R.pending_transfer_has_different_debit_account_id
    if t.credit_account_id is not None and t.credit_account_id != pt.credit_account_id:
        return R.pending_transfer_has_different_credit_account_id
    if t.ledger is not None and t.ledger != pt.ledger:
        return R.pending_transfer_has_different_ledger
    if t.code is not None and t.code != pt.code:
        return R.pending_transfer_has_different_code
    if t.amount > pt.amount:
        return R.exceeds_pending_transfer_amount
    if t.flags & T_VOID and t.amount not in (0, pt.amount):
        return R.pending_transfer_has_different_amount
    if p.state is PendingState.posted:
        return R.pending_transfer_already_posted
    if p.state is PendingState.voided:
        return R.pending_transfer_already_voided
    if p.state is PendingState.expired or (p.expires_at is not None and p.expires_at <= timestamp):
        return R.pending_transfer_expired
    return R.ok


def _resolve_pending(
    t: Transfer, state: BatchState, chain: _Chain | None, timestamp: int
) -> tuple[R, Transfer]:
    assert t.pending_id is not None
    p = state.pending.get(t.pending_id)
    if p is None:
        return (
            R.pending_transfer_not_pending
            if t.pending_id in state.existing
            else R.pending_transfer_not_found
        ), t
    result = _check_pending(t, p, timestamp)
    if result is not R.ok:
        return result, t
    pt = p.transfer
    assert pt.debit_account_id is not None and pt.credit_account_id is not None
    post = bool(t.flags & T_POST)
    amount = (t.amount or pt.amount) if post else pt.amount
    dr, cr = state.accounts[pt.debit_account_id], state.accounts[pt.credit_account_id]
    if post and dr[DPO] + amount > MAX_AMOUNT:  # type: ignore[operator]
        return R.overflows_debits, t
    if post and cr[CPO] + amount > MAX_AMOUNT:  # type: ignore[operator]
        return R.overflows_credits, t
    if chain is not None:
        chain.remember(dr, cr)
    dr[DP] -= pt.amount  # type: ignore[operator]
    cr[CP] -= pt.amount  # type: ignore[operator]
    if post:
        dr[DPO] += amount  # type: ignore[operator]
        cr[CPO] += amount  # type: ignore[operator]
    if chain is not None:
        chain.pending_states.append((p, p.state))
    p.state = PendingState.posted if post else PendingState.voided
    resolved = t._replace(
        debit_account_id=pt.debit_account_id,
        credit_account_id=pt.credit_account_id,
        ledger=pt.ledger,
        code=pt.code,
        amount=amount,
    )
    return R.ok, resolved


def apply_accounts(
    items: list[tuple[Account | None, CreateAccountResult, bool]],
    existing: dict[str, Account],
    clock: list[int],
) -> tuple[list[CreateAccountResult], list[Account]]:
    """Judge a batch of new accounts; return one result each and the accounts to insert."""
    A = CreateAccountResult
    results: list[CreateAccountResult] = [A.ok] * len(items)
    created: list[Account] = []
    for start, end in chains([linked for _, _, linked in items]):
        made: list[Account] = []
        failed_at = -1
        for i in range(start, end):
            account, result, _ = items[i]
            if account is not None and account.id in existing:
                same = account.same_fields(existing[account.id])
                result = A.exists if same else A.exists_with_different_fields
            elif account is not None:
                account = replace(account, timestamp=clock[0])
                clock[0] += 1
                existing[account.id] = account
                made.append(account)
            results[i] = result
            if result not in (A.ok, A.exists):
                failed_at = i
                break
        if failed_at < 0 and items[end - 1][2]:
            failed_at = end - 1
            results[failed_at] = A.linked_event_chain_open
        if failed_at >= 0:
            for account in made:
                del existing[account.id]
            made = []
            for i in range(start, end):
                if i != failed_at:
                    results[i] = A.linked_event_failed
        created.extend(made)
    return results, created
