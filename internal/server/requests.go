package server

import (
	"net/http"
	"strings"

	"github.com/polybot/polybot"
	"github.com/polybot/polybot/internal/auth"
)

// Every JSON request body is one of these types. Each validates itself with
// the root package's rules, so decode → validate is one pure step
// (decodeRequest) that handlers call and the fuzz targets drive: it must
// never panic and never answer an internal error.

// validator is a request body that checks itself after decoding.
type validator interface{ validate() error }

// decodeRequest decodes body strictly into a new T and validates it.
func decodeRequest[T any, PT interface {
	*T
	validator
}](body []byte) (*T, error) {
	v := PT(new(T))
	if err := decodeStrict(body, v); err != nil {
		return nil, err
	}
	if err := v.validate(); err != nil {
		return nil, err
	}
	return (*T)(v), nil
}

// readRequest reads r's body and decodes it with decodeRequest.
func readRequest[T any, PT interface {
	*T
	validator
}](r *http.Request) (*T, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return decodeRequest[T, PT](body)
}

// signupRequest is POST /api/v1/auth/signup. validate normalises Email.
type signupRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name,omitempty"`
}

func (in *signupRequest) validate() error {
	v := polybot.Validation{}
	email, err := polybot.NormalizeEmail(in.Email)
	if err != nil {
		v.Add("email", polybot.ErrorFields(err)["email"])
	} else {
		in.Email = email
	}
	if err := polybot.ValidateDisplayName(in.DisplayName); err != nil {
		v.Add("display_name", polybot.ErrorFields(err)["display_name"])
	} else {
		in.DisplayName = strings.TrimSpace(in.DisplayName)
	}
	if err := newPassword(in.Password, in.Email, in.DisplayName); err != nil {
		v.Add("password", polybot.ErrorFields(err)["password"])
	}
	return v.Err()
}

// newPassword checks a password being set: its form, then its strength,
// with the account's own words counted as known to an attacker.
func newPassword(pw string, userInputs ...string) error {
	if err := polybot.ValidatePassword(pw); err != nil {
		return err
	}
	var words []string
	for _, s := range userInputs {
		if s == "" {
			continue
		}
		words = append(words, s)
		if local, _, ok := strings.Cut(s, "@"); ok {
			words = append(words, local)
		}
	}
	return auth.CheckPasswordStrength(pw, words...)
}

// loginRequest is POST /api/v1/auth/login.
type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (in *loginRequest) validate() error {
	v := polybot.Validation{}
	if in.Email == "" {
		v.Add("email", "is required")
	}
	if in.Password == "" {
		v.Add("password", "is required")
	}
	return v.Err()
}

// passwordChangeRequest is PUT /api/v1/auth/password.
type passwordChangeRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (in *passwordChangeRequest) validate() error {
	v := polybot.Validation{}
	if in.CurrentPassword == "" {
		v.Add("current_password", "is required")
	}
	if err := polybot.ValidatePassword(in.NewPassword); err != nil {
		v.Add("new_password", polybot.ErrorFields(err)["password"])
	} else if in.NewPassword == in.CurrentPassword {
		v.Add("new_password", "must differ from the current password")
	}
	return v.Err()
}

// createTokenRequest is POST /api/v1/tokens. validate trims Name.
type createTokenRequest struct {
	Name          string `json:"name"`
	ExpiresInDays int    `json:"expires_in_days"`
}

func (in *createTokenRequest) validate() error {
	v := polybot.Validation{}
	in.Name = strings.TrimSpace(in.Name)
	if err := (&polybot.APIToken{Name: in.Name}).Validate(); err != nil {
		v.Add("name", polybot.ErrorFields(err)["name"])
	}
	if in.ExpiresInDays < 0 || in.ExpiresInDays > 366 {
		v.Add("expires_in_days", "must be between 0 (never) and 366")
	}
	return v.Err()
}

// profilePatch is PATCH /api/v1/profile.
type profilePatch struct {
	DisplayName         *string `json:"display_name"`
	AcceptTerms         *bool   `json:"accept_terms"`
	OnboardingCompleted *bool   `json:"onboarding_completed"`
}

func (in *profilePatch) validate() error {
	v := polybot.Validation{}
	if in.DisplayName != nil {
		if err := polybot.ValidateDisplayName(*in.DisplayName); err != nil {
			v.Add("display_name", polybot.ErrorFields(err)["display_name"])
		}
	}
	if in.AcceptTerms != nil && !*in.AcceptTerms {
		v.Add("accept_terms", "can only be true; terms, once accepted, stay accepted")
	}
	return v.Err()
}

// haltRequest is PUT /api/v1/bot/halt and the admin's halts.
type haltRequest struct {
	State string `json:"state"`
}

func (h *haltRequest) validate() error {
	if !polybot.ValidHalt(h.State) {
		return polybot.FieldError("state", `must be "active", "reducing_only" or "halted"`)
	}
	return nil
}

// setTierRequest is PUT /api/v1/admin/users/{id}/tier.
type setTierRequest struct {
	Tier string `json:"tier"`
}

func (in *setTierRequest) validate() error {
	if in.Tier == "" {
		return polybot.FieldError("tier", "is required")
	}
	return polybot.CheckTierName(in.Tier)
}

// setRoleRequest is PUT /api/v1/admin/users/{id}/role.
type setRoleRequest struct {
	Role polybot.Role `json:"role"`
}

func (in *setRoleRequest) validate() error {
	if !in.Role.Valid() {
		return polybot.FieldError("role", `must be "user" or "admin"`)
	}
	return nil
}

// setDisabledRequest is PUT /api/v1/admin/users/{id}/disabled.
type setDisabledRequest struct {
	Disabled *bool `json:"disabled"`
}

func (in *setDisabledRequest) validate() error {
	if in.Disabled == nil {
		return polybot.FieldError("disabled", "is required")
	}
	return nil
}

// tierRequest is PUT /api/v1/admin/tiers/{name}: the tier, named by the path.
type tierRequest polybot.Tier

func (t *tierRequest) validate() error { return nil } // after the path's name is set: see parseTier

// parseTier decodes an admin's tier edit and validates it under the
// path's name.
func parseTier(body []byte, name string) (*polybot.Tier, error) {
	t, err := decodeRequest[tierRequest](body)
	if err != nil {
		return nil, err
	}
	t.Name = name
	tier := (*polybot.Tier)(t)
	if err := tier.Validate(); err != nil {
		return nil, err
	}
	return tier, nil
}

// pairRequest is PUT /api/v1/admin/market-pairs/{id}.
type pairRequest polybot.MarketPair

func (m *pairRequest) validate() error { return nil } // see parsePair

// parsePair decodes an admin's registry entry and validates it under the
// path's id.
func parsePair(body []byte, id string) (*polybot.MarketPair, error) {
	m, err := decodeRequest[pairRequest](body)
	if err != nil {
		return nil, err
	}
	m.ID = id
	pair := (*polybot.MarketPair)(m)
	if err := pair.Validate(); err != nil {
		return nil, err
	}
	return pair, nil
}

// outcomeSetRequest is PUT /api/v1/admin/outcome-sets/{id}.
type outcomeSetRequest polybot.OutcomeSet

func (s *outcomeSetRequest) validate() error { return nil } // see parseOutcomeSet

// parseOutcomeSet decodes an admin's outcome set and validates it under
// the path's id.
func parseOutcomeSet(body []byte, id string) (*polybot.OutcomeSet, error) {
	s, err := decodeRequest[outcomeSetRequest](body)
	if err != nil {
		return nil, err
	}
	s.ID = id
	set := (*polybot.OutcomeSet)(s)
	if err := set.Validate(); err != nil {
		return nil, err
	}
	return set, nil
}

// relationRequest is PUT /api/v1/admin/relations/{id}.
type relationRequest polybot.Relation

func (r *relationRequest) validate() error { return nil } // see parseRelation

// parseRelation decodes an admin's relation and validates it under the
// path's id. Whether an equivalence's sets exist is the store's to say.
func parseRelation(body []byte, id string) (*polybot.Relation, error) {
	r, err := decodeRequest[relationRequest](body)
	if err != nil {
		return nil, err
	}
	r.ID = id
	rel := (*polybot.Relation)(r)
	if err := rel.Validate(); err != nil {
		return nil, err
	}
	return rel, nil
}
