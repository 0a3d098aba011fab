package enrich

import (
	"github.com/vigil-sec/vigil/internal/config"
	"github.com/vigil-sec/vigil/internal/event"
)

// Accounts names the organisation's accounts from the configuration: an
// event of a configured account gets its name, environment and owner.
type Accounts map[string]*event.AccountInfo

// NewAccounts builds the enricher from the configured accounts.
func NewAccounts(accounts map[string]config.Account) Accounts {
	m := make(Accounts, len(accounts))
	for id, a := range accounts {
		m[id] = &event.AccountInfo{Name: a.Name, Environment: a.Environment, Owner: a.Owner}
	}
	return m
}

// Enrich implements Enricher.
func (m Accounts) Enrich(ev *event.Event) {
	if info, ok := m[ev.Account]; ok {
		ev.AccountInfo = info
	}
}
