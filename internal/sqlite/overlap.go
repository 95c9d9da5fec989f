package sqlite

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/polybot/polybot"
)

// The overlap registry: outcome sets and relations (migration 0005). The
// rules are the root package's (OutcomeSet.Validate, Relation.Validate and
// CheckSets, SetInUse); this file only stores them.

const outcomeSetCols = `id, name, venue, event, outcomes, exhaustive, resolution_notes, approved, created_at, updated_at`

func scanOutcomeSet(s scanner) (*polybot.OutcomeSet, error) {
	var o polybot.OutcomeSet
	var outcomes string
	err := s.Scan(&o.ID, &o.Name, &o.Venue, &o.Event, &outcomes, &o.Exhaustive, &o.ResolutionNotes, &o.Approved,
		timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt})
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(outcomes), &o.Outcomes); err != nil {
		return nil, fmt.Errorf("outcome set %s outcomes: %w", o.ID, err)
	}
	return &o, nil
}

func (a *adminTx) OutcomeSets() ([]*polybot.OutcomeSet, error) {
	return collect(a.tx, "outcome set", scanOutcomeSet, `SELECT `+outcomeSetCols+` FROM polybot_outcome_sets ORDER BY id`)
}

func (a *adminTx) OutcomeSet(id string) (*polybot.OutcomeSet, error) {
	if err := polybot.CheckOverlapID(id); err != nil {
		return nil, err
	}
	return one(a.tx, "outcome set", scanOutcomeSet, `SELECT `+outcomeSetCols+` FROM polybot_outcome_sets WHERE id = ?`, id)
}

// PutOutcomeSet creates or updates s: CreatedAt is kept on update,
// UpdatedAt is Now.
func (a *adminTx) PutOutcomeSet(s *polybot.OutcomeSet) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return err
	}
	outcomes, err := json.Marshal(s.Outcomes)
	if err != nil {
		return polybot.Internal(err)
	}
	var created time.Time
	err = a.queryRow(`INSERT INTO polybot_outcome_sets (`+outcomeSetCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, venue = excluded.venue, event = excluded.event,
			outcomes = excluded.outcomes, exhaustive = excluded.exhaustive, resolution_notes = excluded.resolution_notes,
			approved = excluded.approved, updated_at = excluded.updated_at
		RETURNING created_at`,
		s.ID, s.Name, s.Venue, s.Event, string(outcomes), s.Exhaustive, s.ResolutionNotes, s.Approved,
		micros(a.now), micros(a.now)).Scan(timeCol{&created})
	if err != nil {
		return dbError(err, "outcome set")
	}
	s.CreatedAt, s.UpdatedAt = created, a.now
	return nil
}

// DeleteOutcomeSet deletes a set no relation names (SetInUse otherwise).
func (a *adminTx) DeleteOutcomeSet(id string) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := polybot.CheckOverlapID(id); err != nil {
		return err
	}
	rels, err := collect(a.tx, "relation", scanString,
		`SELECT id FROM polybot_relations WHERE set_a = ? OR set_b = ? ORDER BY id`, id, id)
	if err != nil {
		return err
	}
	if len(rels) > 0 {
		ids := make([]string, len(rels))
		for i, r := range rels {
			ids[i] = *r
		}
		return polybot.SetInUse(id, ids)
	}
	return a.updateOne("outcome set", `DELETE FROM polybot_outcome_sets WHERE id = ?`, id)
}

func scanString(s scanner) (*string, error) {
	var v string
	if err := s.Scan(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

const relationCols = `id, name, kind, market_a, market_b, set_a, set_b, resolution_notes, approved, created_at, updated_at`

func scanRelation(s scanner) (*polybot.Relation, error) {
	var r polybot.Relation
	var ma, mb, sa, sb *string
	err := s.Scan(&r.ID, &r.Name, &r.Kind, &ma, &mb, &sa, &sb, &r.ResolutionNotes, &r.Approved,
		timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt})
	if err != nil {
		return nil, err
	}
	for _, m := range []struct {
		col *string
		dst *polybot.BinaryMarket
	}{{ma, &r.A}, {mb, &r.B}} {
		if m.col != nil {
			if err := json.Unmarshal([]byte(*m.col), m.dst); err != nil {
				return nil, fmt.Errorf("relation %s market: %w", r.ID, err)
			}
		}
	}
	if sa != nil {
		r.SetA = *sa
	}
	if sb != nil {
		r.SetB = *sb
	}
	return &r, nil
}

func (a *adminTx) Relations() ([]*polybot.Relation, error) {
	return collect(a.tx, "relation", scanRelation, `SELECT `+relationCols+` FROM polybot_relations ORDER BY id`)
}

func (a *adminTx) Relation(id string) (*polybot.Relation, error) {
	if err := polybot.CheckOverlapID(id); err != nil {
		return nil, err
	}
	return one(a.tx, "relation", scanRelation, `SELECT `+relationCols+` FROM polybot_relations WHERE id = ?`, id)
}

// PutRelation creates or updates r: CreatedAt is kept on update, UpdatedAt
// is Now. An implication stores its two markets, an equivalence its two
// sets (which must exist, and pass CheckSets).
func (a *adminTx) PutRelation(r *polybot.Relation) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := r.Validate(); err != nil {
		return err
	}
	var ma, mb, sa, sb any
	switch r.Kind {
	case polybot.RelationImplies:
		ja, err := json.Marshal(r.A)
		if err != nil {
			return polybot.Internal(err)
		}
		jb, err := json.Marshal(r.B)
		if err != nil {
			return polybot.Internal(err)
		}
		ma, mb = string(ja), string(jb)
	case polybot.RelationEquivalent:
		var sets [2]*polybot.OutcomeSet // nil: no such set, which CheckSets names
		for i, id := range []string{r.SetA, r.SetB} {
			s, err := a.OutcomeSet(id)
			if err != nil && polybot.ErrorCode(err) != polybot.ENOTFOUND {
				return err
			}
			sets[i] = s
		}
		if err := r.CheckSets(sets[0], sets[1]); err != nil {
			return err
		}
		sa, sb = r.SetA, r.SetB
	}
	var created time.Time
	err := a.queryRow(`INSERT INTO polybot_relations (`+relationCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
			market_a = excluded.market_a, market_b = excluded.market_b, set_a = excluded.set_a, set_b = excluded.set_b,
			resolution_notes = excluded.resolution_notes, approved = excluded.approved, updated_at = excluded.updated_at
		RETURNING created_at`,
		r.ID, r.Name, r.Kind, ma, mb, sa, sb, r.ResolutionNotes, r.Approved, micros(a.now), micros(a.now)).Scan(timeCol{&created})
	if err != nil {
		return dbError(err, "relation")
	}
	r.CreatedAt, r.UpdatedAt = created, a.now
	return nil
}

func (a *adminTx) DeleteRelation(id string) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := polybot.CheckOverlapID(id); err != nil {
		return err
	}
	return a.updateOne("relation", `DELETE FROM polybot_relations WHERE id = ?`, id)
}
