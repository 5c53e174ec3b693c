package httpapi

import (
	"net/http"

	"ddn/domain/score"
	"ddn/ports"
)

// GeoOptions are what the score and location endpoints need.
type GeoOptions struct {
	// Catalog scores GET and POST /api/v0/calculator/point; nil answers "not configured".
	Catalog score.Catalog
	// StrictInfo checks calculator bodies with ddn's stricter rule, as the
	// sessions do (Score.StrictInfo).
	StrictInfo bool
	// Locator answers GET /api/v0/location; nil answers "not configured".
	Locator ports.Locator
}

// registerGeo adds the score calculator and the location lookup; both routes
// exist on every node so the route table and the OpenAPI document agree.
func registerGeo(mux *routeMux, o Options) {
	calculate := notConfigured
	if o.Geo.Catalog != nil {
		calculate = calculatorHandler(o)
	}
	var locate http.HandlerFunc
	if o.Geo.Locator != nil {
		locate = locationHandler(o)
	}
	mux.handleLimited("GET /api/v0/calculator/point", calculate, maxInfoBody)
	mux.handleLimited("POST /api/v0/calculator/point", calculate, maxInfoBody)
	mux.HandleFunc("GET /api/v0/location", locate)
}
