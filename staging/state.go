package staging

import (
	"fmt"
	"slices"
	"strings"
)

// State is where a staged record is in its life. The diagram is in the
// package documentation.
type State string

// The states of a staged record.
const (
	// StateReceived: the Salesforce payload is staged, no PH email yet.
	StateReceived State = "received"
	// StateWaitingForPayload: a PH email arrived first; it waits for its
	// payload with the open exception "PH data arrived but Salesforce data
	// is missing".
	StateWaitingForPayload State = "waiting_for_payload"
	// StateReady: payload and PH email are joined; the record can be loaded.
	StateReady State = "ready"
	// StateLoading: a load is running; the loader saves its journal.
	StateLoading State = "loading"
	// StateLoaded: the load finished. A newer payload (or email) sets
	// ChangedSinceLoad and makes the record loadable again.
	StateLoaded State = "loaded"
	// StateLoadFailed: the last load failed; it can be retried.
	StateLoadFailed State = "load_failed"
	// StateNeedsReview: something is ambiguous or conflicting (an email
	// matching several records, keys that disagree, a load exception); an
	// operator decides. Review says why and lists the candidates.
	StateNeedsReview State = "needs_review"
	// StateMerged is terminal: the record held only a PH email, which was
	// copied into another record (MergedInto). It stays as evidence.
	StateMerged State = "merged"
)

// States returns every state in the order of the record's life.
func States() []State {
	return []State{StateReceived, StateWaitingForPayload, StateReady, StateLoading,
		StateLoaded, StateLoadFailed, StateNeedsReview, StateMerged}
}

// Valid reports whether s is one of the states above.
func (s State) Valid() bool { return slices.Contains(States(), s) }

// Action names a state-changing operation; TransitionError reports the
// action that was refused.
type Action string

// The operations that change a record's state.
const (
	ActionStartLoad       Action = "start load"
	ActionSaveJournal     Action = "save load journal"
	ActionFinishLoad      Action = "finish load"
	ActionFailLoad        Action = "fail load"
	ActionRetryLoad       Action = "schedule a load retry"
	ActionMarkNeedsReview Action = "mark needs review"
	ActionChooseCandidate Action = "choose candidate"
	ActionRetryReview     Action = "retry review"
	ActionKeepWaiting     Action = "keep waiting"
	ActionReparseEmail    Action = "re-parse the email"
)

// allowedFrom lists, for each action, the states it may start from. Some
// actions have a further condition (see checkAction).
var allowedFrom = map[Action][]State{
	ActionStartLoad:       {StateReady, StateLoadFailed, StateLoaded},
	ActionSaveJournal:     {StateLoading},
	ActionFinishLoad:      {StateLoading},
	ActionFailLoad:        {StateLoading},
	ActionRetryLoad:       {StateLoading},
	ActionMarkNeedsReview: {StateReceived, StateReady, StateLoading, StateLoadFailed, StateLoaded},
	ActionChooseCandidate: {StateNeedsReview},
	ActionRetryReview:     {StateNeedsReview},
	ActionKeepWaiting:     {StateNeedsReview},
	ActionReparseEmail:    {StateWaitingForPayload, StateReady, StateLoadFailed, StateLoaded, StateNeedsReview},
}

// AllowedFrom returns the states in which action is allowed.
func AllowedFrom(action Action) []State { return slices.Clone(allowedFrom[action]) }

// checkAction returns a *TransitionError when action is not allowed on r.
func (r *Record) checkAction(action Action) error {
	allowed := allowedFrom[action]
	if !slices.Contains(allowed, r.State) {
		return &TransitionError{Record: r.Number, Action: action, State: r.State, Allowed: allowed}
	}
	switch action {
	case ActionStartLoad:
		if ok, reason := r.Loadable(); !ok {
			return &TransitionError{Record: r.Number, Action: action, State: r.State, Allowed: allowed, Reason: reason}
		}
	case ActionKeepWaiting:
		if r.Payload != nil {
			return &TransitionError{Record: r.Number, Action: action, State: r.State, Allowed: allowed,
				Reason: "the record already has its Salesforce payload; only a record holding just a PH email can wait for one"}
		}
	case ActionChooseCandidate:
		if r.Review == nil || len(r.Review.Candidates) == 0 {
			return &TransitionError{Record: r.Number, Action: action, State: r.State, Allowed: allowed,
				Reason: "the review lists no candidate records; use retry review instead"}
		}
	}
	return nil
}

// Loadable reports whether the "SFDC Data" load may start on r, and if not,
// why (for the console). Loadable are: ready records, failed loads (retry),
// and loaded records that changed since the load.
func (r *Record) Loadable() (bool, string) {
	switch r.State {
	case StateReady:
		return true, ""
	case StateLoadFailed:
		return true, "retry of a failed load"
	case StateLoaded:
		if r.ChangedSinceLoad {
			return true, "changed since the last load"
		}
		return false, "already loaded; a newer payload or PH email makes it loadable again"
	case StateReceived:
		return false, "waiting for the Provisioning Hub email"
	case StateWaitingForPayload:
		return false, "waiting for the Salesforce payload"
	case StateLoading:
		return false, "a load is running"
	case StateNeedsReview:
		return false, "needs review: resolve it first"
	case StateMerged:
		return false, fmt.Sprintf("merged into record %d", r.MergedInto)
	}
	return false, "unknown state " + string(r.State)
}

func stateList(states []State) string {
	parts := make([]string, len(states))
	for i, s := range states {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}
