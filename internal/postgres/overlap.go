package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/polybot/polybot"
)

// The overlap registry: outcome sets and relations (migration 0006). The
// rules are the root package's (OutcomeSet.Validate, Relation.Validate and
// CheckSets, SetInUse); this file only stores them. JSON columns are jsonb,
// read back as text and decoded here, as the SQLite store does.

const outcomeSetColumns = `id, name, venue, event, outcomes, exhaustive, resolution_notes, approved, created_at, updated_at`

// outcomeSetSelect reads outcomeSetColumns, the outcomes as text.
const outcomeSetSelect = `SELECT id, name, venue, event, outcomes::text, exhaustive, resolution_notes, approved,
	created_at, updated_at FROM polybot_outcome_sets`

func scanOutcomeSet(r pgx.Rows) (*polybot.OutcomeSet, error) {
	o := &polybot.OutcomeSet{}
	var outcomes string
	if err := r.Scan(&o.ID, &o.Name, &o.Venue, &o.Event, &outcomes, &o.Exhaustive, &o.ResolutionNotes, &o.Approved,
		&o.CreatedAt, &o.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(outcomes), &o.Outcomes); err != nil {
		return nil, fmt.Errorf("outcome set %s outcomes: %w", o.ID, err)
	}
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	return o, nil
}

// collectRows runs sql and scans every row (an empty slice when none).
func collectRows[T any](t *txn, what string, scan func(pgx.Rows) (*T, error), sql string, args ...any) ([]*T, error) {
	out := []*T{}
	_, err := t.query(sql, args, func(r pgx.Rows) error {
		v, err := scan(r)
		if err == nil {
			out = append(out, v)
		}
		return err
	})
	if err != nil {
		return nil, mapErr(err, what)
	}
	return out, nil
}

// oneRow runs sql and scans its one row (ENOTFOUND when none).
func oneRow[T any](t *txn, what string, scan func(pgx.Rows) (*T, error), sql string, args ...any) (*T, error) {
	all, err := collectRows(t, what, scan, sql, args...)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, polybot.NotFound(what)
	}
	return all[0], nil
}

func (t *adminTx) OutcomeSets() ([]*polybot.OutcomeSet, error) {
	return collectRows(t.txn, "outcome set", scanOutcomeSet, outcomeSetSelect+` ORDER BY id`)
}

func (t *adminTx) OutcomeSet(id string) (*polybot.OutcomeSet, error) {
	if err := polybot.CheckOverlapID(id); err != nil {
		return nil, err
	}
	return oneRow(t.txn, "outcome set", scanOutcomeSet, outcomeSetSelect+` WHERE id = $1`, id)
}

// PutOutcomeSet creates or updates s: CreatedAt is kept on update,
// UpdatedAt is Now.
func (t *adminTx) PutOutcomeSet(s *polybot.OutcomeSet) error {
	if err := s.Validate(); err != nil {
		return err
	}
	outcomes, err := json.Marshal(s.Outcomes)
	if err != nil {
		return polybot.Internal(err)
	}
	var created time.Time
	err = t.queryRow(`INSERT INTO polybot_outcome_sets (`+outcomeSetColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, venue = excluded.venue, event = excluded.event,
			outcomes = excluded.outcomes, exhaustive = excluded.exhaustive, resolution_notes = excluded.resolution_notes,
			approved = excluded.approved, updated_at = excluded.updated_at
		RETURNING created_at`,
		[]any{s.ID, s.Name, string(s.Venue), s.Event, string(outcomes), s.Exhaustive, s.ResolutionNotes, s.Approved, t.now},
		&created)
	if err != nil {
		return mapErr(err, "outcome set")
	}
	s.CreatedAt, s.UpdatedAt = created.UTC(), t.now
	return nil
}

func scanText(r pgx.Rows) (*string, error) {
	var v string
	if err := r.Scan(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

// DeleteOutcomeSet deletes a set no relation names (SetInUse otherwise;
// the foreign keys catch a relation added meanwhile).
func (t *adminTx) DeleteOutcomeSet(id string) error {
	if err := polybot.CheckOverlapID(id); err != nil {
		return err
	}
	rels, err := collectRows(t.txn, "relation", scanText,
		`SELECT id FROM polybot_relations WHERE set_a = $1 OR set_b = $1 ORDER BY id`, id)
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
	err = t.updateOne("outcome set", `DELETE FROM polybot_outcome_sets WHERE id = $1`, id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
		return polybot.SetInUse(id, nil)
	}
	return err
}

const relationColumns = `id, name, kind, market_a, market_b, set_a, set_b, resolution_notes, approved, created_at, updated_at`

// relationSelect reads relationColumns, the markets as text.
const relationSelect = `SELECT id, name, kind, market_a::text, market_b::text, set_a, set_b, resolution_notes, approved,
	created_at, updated_at FROM polybot_relations`

func scanRelation(row pgx.Rows) (*polybot.Relation, error) {
	r := &polybot.Relation{}
	var ma, mb, sa, sb *string
	if err := row.Scan(&r.ID, &r.Name, &r.Kind, &ma, &mb, &sa, &sb, &r.ResolutionNotes, &r.Approved,
		&r.CreatedAt, &r.UpdatedAt); err != nil {
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
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

func (t *adminTx) Relations() ([]*polybot.Relation, error) {
	return collectRows(t.txn, "relation", scanRelation, relationSelect+` ORDER BY id`)
}

func (t *adminTx) Relation(id string) (*polybot.Relation, error) {
	if err := polybot.CheckOverlapID(id); err != nil {
		return nil, err
	}
	return oneRow(t.txn, "relation", scanRelation, relationSelect+` WHERE id = $1`, id)
}

// PutRelation creates or updates r: CreatedAt is kept on update, UpdatedAt
// is Now. An implication stores its two markets, an equivalence its two
// sets (which must exist, and pass CheckSets).
func (t *adminTx) PutRelation(r *polybot.Relation) error {
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
			s, err := t.OutcomeSet(id)
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
	err := t.queryRow(`INSERT INTO polybot_relations (`+relationColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
			market_a = excluded.market_a, market_b = excluded.market_b, set_a = excluded.set_a, set_b = excluded.set_b,
			resolution_notes = excluded.resolution_notes, approved = excluded.approved, updated_at = excluded.updated_at
		RETURNING created_at`,
		[]any{r.ID, r.Name, r.Kind, ma, mb, sa, sb, r.ResolutionNotes, r.Approved, t.now}, &created)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" { // a set deleted meanwhile
			field := "set_a"
			if strings.Contains(pgErr.ConstraintName, "set_b") {
				field = "set_b"
			}
			return polybot.FieldError(field, "names no outcome set")
		}
		return mapErr(err, "relation")
	}
	r.CreatedAt, r.UpdatedAt = created.UTC(), t.now
	return nil
}

func (t *adminTx) DeleteRelation(id string) error {
	if err := polybot.CheckOverlapID(id); err != nil {
		return err
	}
	return t.updateOne("relation", `DELETE FROM polybot_relations WHERE id = $1`, id)
}
