package kalshi

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestSubmissionsListEveryOrderRequestIncludingRefusedDuplicates(t *testing.T) {
	r := withAccount(t)
	order := `{"ticker":"` + FedTicker + `","side":"bid","count":"1","price":"0.10","time_in_force":"good_till_canceled","client_order_id":"dup-1"}`
	if st, body := r.call(t, "POST", "/trade-api/v2/portfolio/events/orders", order, nil); st != 201 {
		t.Fatalf("first: %d %v", st, body)
	}
	if st, body := r.call(t, "POST", "/trade-api/v2/portfolio/events/orders", order, nil); st != 409 {
		t.Fatalf("duplicate: %d %v", st, body)
	}
	res, err := http.Get(r.urls.Admin + "/submissions?key_id=k1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct{ Submissions []Submission }
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	s := got.Submissions
	if len(s) != 2 || s[0].ClientOrderID != "dup-1" || s[0].OrderID == "" || s[0].Error != "" ||
		s[1].ClientOrderID != "dup-1" || s[1].Error != "order_already_exists" || s[1].KeyID != "k1" {
		t.Fatalf("submissions %+v", s)
	}
	if n := len(r.Submissions("someone-else")); n != 0 {
		t.Fatalf("%d submissions of another key", n)
	}
}
