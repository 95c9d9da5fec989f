package engine

import "github.com/polybot/polybot"

// allocator is the visible depth of one leg's best level, split between
// tenants first come, first served (see the package doc). Manager.claim and
// Manager.release change it under Manager.allocMu.
type allocator struct {
	total     polybot.Decimal
	remaining polybot.Decimal
}

func newAllocator(size polybot.Decimal) *allocator {
	size = size.Max(polybot.Zero)
	return &allocator{total: size, remaining: size}
}
