package httpapi

import (
	"net/http"

	"ddn/domain/score"
	"ddn/ports"
)

// GeoOptions are what the score and location endpoints need.
type GeoOptions struct {
	// Catalog scores POST /api/v0/calculator/point; nil leaves the route out.
	Catalog score.Catalog
	// Locator answers GET /api/v0/location; nil leaves the route out.
	Locator ports.Locator
}

// registerGeo adds the score calculator and the location lookup.
func registerGeo(mux *http.ServeMux, o Options) {
	if o.Geo.Catalog != nil {
		mux.HandleFunc("POST /api/v0/calculator/point", calculatorHandler(o))
	}
	if o.Geo.Locator != nil {
		mux.HandleFunc("GET /api/v0/location", locationHandler(o))
	}
}
