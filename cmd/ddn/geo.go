package main

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"ddn/adapters/geo"
	"ddn/adapters/gpucatalog"
	"ddn/adapters/httpapi"
	"ddn/config"
	"ddn/domain"
	"ddn/ports"
)

// geoParts are the score's GPU catalog and the geolocation database.
type geoParts struct {
	catalog *gpucatalog.Catalog
	db      *geo.DB // nil without IP2LocationDB.DatabasePath
	log     *zap.Logger
}

// openGeo loads the GPU catalog and opens the geolocation database; a bad
// catalog or database file stops startup. No database: locations are
// unknown, said here once.
func openGeo(cfg *config.Config, log *zap.Logger) (*geoParts, error) {
	g := &geoParts{log: log}
	var err error
	if g.catalog, err = gpucatalog.Open(cfg.Score.GPUCatalog, log.Named("gpucatalog")); err != nil {
		return nil, fmt.Errorf("config: Score.GPUCatalog: %w", err)
	}
	if cfg.Score.GPUCatalog == "" {
		log.Info("gpu catalog: shipped", zap.Int("gpus", g.catalog.Len()))
	} else {
		log.Info("gpu catalog: file, reloaded when it changes", zap.String("path", cfg.Score.GPUCatalog),
			zap.Int("gpus", g.catalog.Len()), zap.Duration("checked_every", cfg.Score.CatalogReload))
	}
	if path := cfg.IP2LocationDB.DatabasePath; path != "" {
		if g.db, err = geo.Open(path); err != nil {
			return nil, fmt.Errorf("config: IP2LocationDB.DatabasePath: %w", err)
		}
		log.Info("geolocation database opened", zap.String("path", path))
	} else {
		log.Info("geolocation disabled (IP2LocationDB.DatabasePath is empty): machine locations are unknown")
	}
	return g, nil
}

// run follows the catalog file until ctx ends.
func (g *geoParts) run(ctx context.Context, cfg *config.Config) {
	g.catalog.Run(ctx, cfg.Score.CatalogReload)
}

// sessionLocator is what sessions locate with: nil without a database, so
// that no session logs a lookup that cannot succeed.
func (g *geoParts) sessionLocator() ports.Locator {
	if g.db == nil {
		return nil
	}
	return g.db
}

// http is what the calculator and location endpoints use; without a
// database the location endpoint answers code 8 saying so.
func (g *geoParts) http(strict bool) httpapi.GeoOptions {
	var loc ports.Locator = geo.None{}
	if g.db != nil {
		loc = g.db
	}
	return httpapi.GeoOptions{Catalog: g.catalog, Locator: loc, StrictInfo: strict}
}

// locateFailed logs a client IP that could not be located.
func (g *geoParts) locateFailed(key domain.MachineKey, ip string, err error) {
	g.log.Warn("client IP not located; the machine's location stays unknown", zap.Stringer("machine", key), zap.String("ip", ip), zap.Error(err))
}

func (g *geoParts) close() {
	if g.db != nil {
		g.db.Close()
	}
}
