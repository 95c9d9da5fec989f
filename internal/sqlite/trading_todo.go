package sqlite

import (
	"errors"
	"time"

	"github.com/polybot/polybot"
)

// Trading-state methods: being implemented (issue 4). Until then every call
// fails, so nothing can trade through this store: the risk gate fails closed.
var errTradingTODO = polybot.Internal(errors.New("sqlite: trading state not implemented yet"))

func (t *tenantTx) LockTenant() error                      { return errTradingTODO }
func (t *tenantTx) GlobalHalt() (string, error)            { return "", errTradingTODO }
func (t *tenantTx) HaltState() (string, error)             { return "", errTradingTODO }
func (t *tenantTx) SetHaltState(string) error              { return errTradingTODO }
func (t *tenantTx) BotEnabled() (bool, error)              { return false, errTradingTODO }
func (t *tenantTx) SetBotEnabled(bool) error               { return errTradingTODO }
func (t *tenantTx) InsertIntent(*polybot.Intent) error     { return errTradingTODO }
func (t *tenantTx) UpdateIntent(*polybot.Intent) error     { return errTradingTODO }
func (t *tenantTx) Intent(string) (*polybot.Intent, error) { return nil, errTradingTODO }
func (t *tenantTx) Intents([]string, time.Time, int) ([]*polybot.Intent, error) {
	return nil, errTradingTODO
}
func (t *tenantTx) InsertFill(*polybot.TradeFill) error { return errTradingTODO }
func (t *tenantTx) Fills(time.Time, int) ([]*polybot.TradeFill, error) {
	return nil, errTradingTODO
}
func (t *tenantTx) Holding(polybot.Instrument, polybot.ExecMode) (*polybot.Holding, error) {
	return nil, errTradingTODO
}
func (t *tenantTx) PutHolding(*polybot.Holding) error     { return errTradingTODO }
func (t *tenantTx) Holdings() ([]*polybot.Holding, error) { return nil, errTradingTODO }
func (t *tenantTx) AddDailyPnL(string, polybot.ExecMode, polybot.Decimal, polybot.Decimal) error {
	return errTradingTODO
}
func (t *tenantTx) DailyPnL(string, polybot.ExecMode) (*polybot.DailyPnL, error) {
	return nil, errTradingTODO
}
func (t *tenantTx) PnLByStrategy() ([]*polybot.StrategyPnL, error) { return nil, errTradingTODO }

func (a *adminTx) BotUserIDs() ([]polybot.ID, error)              { return nil, errTradingTODO }
func (a *adminTx) GlobalHalt() (string, error)                    { return "", errTradingTODO }
func (a *adminTx) SetGlobalHalt(string) error                     { return errTradingTODO }
func (a *adminTx) SetUserHalt(polybot.ID, string) error           { return errTradingTODO }
func (a *adminTx) MarketPairs() ([]*polybot.MarketPair, error)    { return nil, errTradingTODO }
func (a *adminTx) MarketPair(string) (*polybot.MarketPair, error) { return nil, errTradingTODO }
func (a *adminTx) PutMarketPair(*polybot.MarketPair) error        { return errTradingTODO }
func (a *adminTx) DeleteMarketPair(string) error                  { return errTradingTODO }
