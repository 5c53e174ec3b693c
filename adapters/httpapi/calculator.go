package httpapi

import (
	"encoding/json"
	"net/http"

	"ddn/domain"
	"ddn/domain/score"
	"ddn/internal/wire"
)

// maxInfoBody is the route mux's body limit of the calculator and contract
// commands: a type-2 body or a command is a few hundred bytes.
const maxInfoBody = 64 << 10

// calculatorHandler serves GET (the original's method, with a JSON body) and
// POST /api/v0/calculator/point: the code and calc point a type-2 report
// with this body would get on a machine not scored yet. As in the
// original, a body that is not such JSON is code 1 "invalid machine info"
// and a field check answers code 1 with its text; a report that cannot be
// scored is code 6 with the report's text.
func calculatorHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b wire.ShortTerm
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			if tooLarge(err) {
				writeError(w, http.StatusRequestEntityTooLarge, domain.CodeParameter, "body larger than "+byteSize(maxInfoBody))
				return
			}
			writeError(w, http.StatusBadRequest, domain.CodeParameter, "invalid machine info")
			return
		}
		info := b.Info()
		validate := info.Validate
		if o.Geo.StrictInfo {
			validate = info.ValidateStrict
		}
		if err := validate(); err != nil {
			writeError(w, http.StatusBadRequest, domain.CodeParameter, err.Error())
			return
		}
		res := score.Of(info, o.Geo.Catalog)
		if err := res.Refusal(); err != nil {
			writeError(w, http.StatusUnprocessableEntity, domain.CodeOf(err), err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"code": domain.CodeOK, "message": "ok", "calc_point": res.CalcPoint})
	}
}
