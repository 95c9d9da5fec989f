package kalshi

import (
	"net/http"

	"github.com/polybot/polybot"
)

// adminRoutes are the simulator's own controls, under /sim/v1. They have no
// auth: the simulator listens on loopback.
//
//	POST   /sim/v1/accounts                  {"key_id","public_key_pem","balance_dollars"}
//	POST   /sim/v1/markets                   {"ticker","event_ticker","series_ticker","title","yes_sub_title"}
//	PUT    /sim/v1/markets/{ticker}/book     {"yes_dollars":[["0.40","10"]],"no_dollars":[...]}
//	POST   /sim/v1/markets/{ticker}/skip_seq
//	POST   /sim/v1/faults, DELETE /sim/v1/faults, POST /sim/v1/websockets/drop  (fault.Injector.AdminRoutes)
//	GET    /sim/v1/submissions[?key_id=K]  every order request received (Submissions)
func (s *Server) adminRoutes(mux *http.ServeMux) {
	a := AdminPath
	handle := func(pattern string, h func(*http.Request) (int, any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			status, body, err := h(r)
			if err != nil {
				code := http.StatusBadRequest
				if polybot.ErrorCode(err) == polybot.ENOTFOUND {
					code = http.StatusNotFound
				}
				writeErr(w, &apiError{Status: code, Code: "invalid_parameters", Message: polybot.ErrorMessage(err)})
				return
			}
			if body == nil {
				w.WriteHeader(status)
				return
			}
			writeJSON(w, status, body)
		})
	}
	decode := func(r *http.Request, v any) error {
		if e := decode(r, v); e != nil {
			return polybot.Errorf(polybot.EINVALID, "%s", e.Message)
		}
		return nil
	}
	handle("POST "+a+"/accounts", func(r *http.Request) (int, any, error) {
		var ac AccountConfig
		if err := decode(r, &ac); err != nil {
			return 0, nil, err
		}
		if err := s.AddAccount(ac); err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, map[string]string{"key_id": ac.KeyID}, nil
	})
	handle("POST "+a+"/markets", func(r *http.Request) (int, any, error) {
		var mc MarketConfig
		if err := decode(r, &mc); err != nil {
			return 0, nil, err
		}
		if err := s.AddMarket(mc); err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, map[string]string{"ticker": mc.Ticker}, nil
	})
	handle("PUT "+a+"/markets/{ticker}/book", func(r *http.Request) (int, any, error) {
		var b struct {
			Yes [][2]polybot.Decimal `json:"yes_dollars"`
			No  [][2]polybot.Decimal `json:"no_dollars"`
		}
		if err := decode(r, &b); err != nil {
			return 0, nil, err
		}
		levels := func(in [][2]polybot.Decimal) []polybot.Level {
			out := make([]polybot.Level, len(in))
			for i, l := range in {
				out[i] = polybot.Level{Price: l[0], Size: l[1]}
			}
			return out
		}
		if err := s.SetBook(r.PathValue("ticker"), levels(b.Yes), levels(b.No)); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, map[string]string{"ticker": r.PathValue("ticker")}, nil
	})
	handle("POST "+a+"/markets/{ticker}/skip_seq", func(r *http.Request) (int, any, error) {
		s.SkipSeq(r.PathValue("ticker"))
		return http.StatusNoContent, nil, nil
	})
	handle("GET "+a+"/submissions", func(r *http.Request) (int, any, error) {
		return http.StatusOK, map[string]any{"submissions": s.Submissions(r.URL.Query().Get("key_id"))}, nil
	})
	s.faults.AdminRoutes(mux, a)
}
