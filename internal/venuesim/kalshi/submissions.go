package kalshi

import (
	"time"

	"github.com/polybot/polybot/internal/venuesim/matching"
)

// Submission is one order request the simulator received and tried to
// place, accepted or refused: a refused duplicate client_order_id is a
// submission too. Tests use the log to prove a client never sends a
// client order id twice (the crash test in cmd/polybot).
type Submission struct {
	KeyID         string    `json:"key_id"`
	ClientOrderID string    `json:"client_order_id"`
	Ticker        string    `json:"ticker"`
	OrderID       string    `json:"order_id,omitempty"` // set when accepted
	Error         string    `json:"error,omitempty"`    // the error code when refused, e.g. order_already_exists
	Time          time.Time `json:"time"`
}

// Submissions returns, oldest first, every order request that reached
// placement (its JSON and time in force parsed) for keyID, or for every
// key when keyID is empty.
//
//	GET /sim/v1/submissions[?key_id=K]  {"submissions":[...]}
func (s *Server) Submissions(keyID string) []Submission {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Submission, 0, len(s.subs))
	for _, sub := range s.subs {
		if keyID == "" || sub.KeyID == keyID {
			out = append(out, sub)
		}
	}
	return out
}

func (s *Server) recordSubmission(keyID string, p placement, res matching.Result, apiErr *apiError) {
	sub := Submission{KeyID: keyID, ClientOrderID: p.clientID, Ticker: p.ticker, Time: s.now()}
	if apiErr != nil {
		sub.Error = apiErr.Code
	} else {
		sub.OrderID = res.Order.ID
	}
	s.mu.Lock()
	s.subs = append(s.subs, sub)
	s.mu.Unlock()
}
