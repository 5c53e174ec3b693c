package chain

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"
)

// LookupChainID asks the endpoints, in order, for the chain id
// (eth_chainId, else net_version as the original node did) and answers the
// first one's. It is for a configuration with Chain.ChainId 0. Errors name
// the endpoint's position, never its URL (it may carry an API key).
func LookupChainID(ctx context.Context, urls []string, timeout time.Duration) (int64, error) {
	var errs []error
	for i, u := range urls {
		id, err := lookupChainID(ctx, u, timeout)
		if err == nil {
			return id, nil
		}
		errs = append(errs, fmt.Errorf("endpoint %d: %w", i+1, withoutURL(err)))
	}
	return 0, fmt.Errorf("chain id from the RPC: %w", errors.Join(errs...))
}

func lookupChainID(ctx context.Context, url string, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := ethclient.DialContext(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	id, err := c.ChainID(ctx)
	if err != nil {
		var nerr error
		if id, nerr = c.NetworkID(ctx); nerr != nil {
			return 0, fmt.Errorf("eth_chainId: %w; net_version: %w", withoutURL(err), withoutURL(nerr))
		}
	}
	if !id.IsInt64() || id.Sign() <= 0 {
		return 0, fmt.Errorf("the endpoint answered chain id %s", id)
	}
	return id.Int64(), nil
}

// withoutURL drops the request URL an HTTP error names (it may carry an API
// key in its path, query or user).
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
