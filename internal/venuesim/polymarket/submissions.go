package polymarket

import (
	"net/http"
	"strings"
	"time"

	pm "github.com/polybot/polybot/internal/venue/polymarket"
)

// AdminPath prefixes the simulator's own routes (none of the venue's).
const AdminPath = "/sim/v1"

// Submission is one signed order the simulator received and tried to place,
// accepted or refused (a refused duplicate too). Polymarket orders carry no
// client order id: PolyBot derives the salt from it (pm.SaltFor), so one
// client order id sent twice shows as one salt twice. Tests use the log to
// prove that never happens (the crash test in cmd/polybot).
type Submission struct {
	Maker   string    `json:"maker"`    // the order's maker address
	Owner   string    `json:"owner"`    // the API key
	Salt    string    `json:"salt"`     // decimal
	OrderID string    `json:"order_id"` // the order hash
	TokenID string    `json:"token_id"`
	Side    string    `json:"side"`
	Success bool      `json:"success"`
	Error   string    `json:"error,omitempty"`
	Time    time.Time `json:"time"`
}

// Submissions returns, oldest first, every order whose signed payload
// parsed, for one maker address (any case) or all when maker is empty.
//
//	GET /sim/v1/submissions[?maker=0x...]  {"submissions":[...]}
func (s *Server) Submissions(maker string) []Submission {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Submission, 0, len(s.subs))
	for _, sub := range s.subs {
		if maker == "" || strings.EqualFold(sub.Maker, maker) {
			out = append(out, sub)
		}
	}
	return out
}

func (s *Server) recordSubmission(owner string, so *pm.SignedOrder, resp pm.PostOrderResponse, err error) {
	if so == nil {
		return
	}
	sub := Submission{Maker: so.Maker.String(), Owner: owner, OrderID: so.ID(), TokenID: so.TokenID.String(),
		Side: so.Side.String(), Success: err == nil && resp.Success, Time: s.cfg.Now()}
	if so.Salt != nil {
		sub.Salt = so.Salt.String()
	}
	if err != nil {
		sub.Error = err.Error()
	}
	s.mu.Lock()
	s.subs = append(s.subs, sub)
	s.mu.Unlock()
}

func (s *Server) submissionsHandler(w http.ResponseWriter, r *http.Request) {
	_ = writeJSON(w, map[string]any{"submissions": s.Submissions(r.URL.Query().Get("maker"))})
}
