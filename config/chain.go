package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// ChainEnabled tells whether a chain is configured (Chain.Rpc set); without
// one every machine counts as registered and transactions are only logged.
func (c *Config) ChainEnabled() bool { return c.Chain.Rpc != "" }

// ChainEndpoints is Chain.Rpc followed by the other Chain.RpcEndpoints, each once.
func (c *Config) ChainEndpoints() []string {
	out := []string{c.Chain.Rpc}
	for _, u := range c.Chain.RpcEndpoints {
		if u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// RentalEnabled tells whether the current original's rental rules apply:
// a chain with Chain.RentContract or Chain.FreeRentalContract set.
func (c *Config) RentalEnabled() bool {
	return c.ChainEnabled() && (c.Chain.RentContract.ContractAddress != "" || c.Chain.FreeRentalContract.ContractAddress != "")
}

// ChainKeys are the keys transactions are signed with: Chain.PrivateKeys
// when set (the current original's rule), else Chain.PrivateKey.
func (c *Config) ChainKeys() []string {
	if len(c.Chain.PrivateKeys) > 0 {
		return c.Chain.PrivateKeys
	}
	if c.Chain.PrivateKey == "" {
		return nil
	}
	return []string{c.Chain.PrivateKey}
}

// OutboxConcurrency is Outbox.Concurrency, or one per chain key when it is 0.
func (c *Config) OutboxConcurrency() int {
	if c.Outbox.Concurrency > 0 {
		return c.Outbox.Concurrency
	}
	if c.ChainEnabled() {
		return max(len(c.ChainKeys()), 1)
	}
	return 1
}

// validateChain checks the chain keys when a chain is configured; the key,
// addresses and ABIs are parsed by the chain adapter at startup, which names
// the key too.
func (c *Config) validateChain() []error {
	if !c.ChainEnabled() {
		return nil
	}
	var errs []error
	check := func(ok bool, key, format string, args ...any) {
		if !ok {
			errs = append(errs, keyError(key, format, args...))
		}
	}
	for _, u := range c.ChainEndpoints() {
		parsed, err := url.Parse(u)
		ok := err == nil && parsed.Host != "" && slices.Contains([]string{"http", "https", "ws", "wss"}, parsed.Scheme)
		// Endpoint URLs may carry an API key: name the key, not the value.
		check(ok, "Chain.Rpc", "every RPC endpoint must be an http(s):// or ws(s):// URL")
		if !ok {
			break
		}
	}
	// 0 asks the RPC endpoint for it at startup, as the original did.
	check(c.Chain.ChainId >= 0, "Chain.ChainId", "must not be negative (0: ask the RPC endpoint), got %d", c.Chain.ChainId)
	check(len(c.ChainKeys()) > 0, "Chain.PrivateKey", "is required when Chain.Rpc is set (or Chain.PrivateKeys; DDN_CHAIN_PRIVATEKEY, DDN_CHAIN_PRIVATEKEYS)")
	for i, k := range c.Chain.PrivateKeys {
		check(strings.TrimSpace(k) != "", fmt.Sprintf("Chain.PrivateKeys[%d]", i), "is empty")
	}
	check(c.Chain.ReportContract.ContractAddress != "", "Chain.ReportContract.ContractAddress", "is required when Chain.Rpc is set")
	check(c.Chain.MachineInfoContract.ContractAddress != "", "Chain.MachineInfoContract.ContractAddress", "is required when Chain.Rpc is set")
	check(c.Chain.ReceiptTimeout > 0, "Chain.ReceiptTimeout", "must be positive, got %q", c.Chain.ReceiptTimeout.String())
	check(c.Chain.CallTimeout > 0, "Chain.CallTimeout", "must be positive, got %q", c.Chain.CallTimeout.String())
	check(c.Chain.SenderLease > 0, "Chain.SenderLease", "must be positive, got %q", c.Chain.SenderLease.String())
	check(c.Chain.BlockPoll > 0, "Chain.BlockPoll", "must be positive, got %q", c.Chain.BlockPoll.String())
	check(c.Chain.MaxConcurrentCalls > 0, "Chain.MaxConcurrentCalls", "must be positive, got %d", c.Chain.MaxConcurrentCalls)
	check(c.Chain.MaxRequestsPerSecond > 0, "Chain.MaxRequestsPerSecond", "must be positive, got %v", c.Chain.MaxRequestsPerSecond)
	check(c.Chain.MaxBatchSize > 0, "Chain.MaxBatchSize", "must be positive, got %d", c.Chain.MaxBatchSize)
	check(c.Chain.ReadTimeout > 0, "Chain.ReadTimeout", "must be positive, got %q", c.Chain.ReadTimeout.String())
	check(c.Chain.RentRecheck > 0, "Chain.RentRecheck", "must be positive, got %q", c.Chain.RentRecheck.String())
	check(c.Chain.RegistrationCacheTTL >= 0, "Chain.RegistrationCacheTTL", "must not be negative (0: always ask the chain), got %q", c.Chain.RegistrationCacheTTL.String())
	return errs
}

// RedactURL keeps only the scheme and host of a URL, for logs.
func RedactURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host == "" {
		return redacted
	}
	if parsed.Path == "" && parsed.RawQuery == "" && parsed.User == nil {
		return parsed.Scheme + "://" + parsed.Host
	}
	return parsed.Scheme + "://" + parsed.Host + "/" + redacted
}
