package httpapi

import (
	"encoding/json"
	"net/http"

	"go.uber.org/zap"

	"ddn/domain"
	"ddn/domain/score"
)

// maxInfoBody is the route mux's body limit of the calculator and contract
// commands: a type-2 body or a command is a few hundred bytes.
const maxInfoBody = 64 << 10

// shortTermBody is the type-2 body of the wire protocol.
type shortTermBody struct {
	CPUType        string   `json:"cpu_type"`
	CPURate        int64    `json:"cpu_rate"`
	GPUNames       []string `json:"gpu_names"`
	GPUMemoryTotal []int64  `json:"gpu_memory_total"`
	MemoryTotal    int64    `json:"memory_total"`
	Wallet         string   `json:"wallet"`
}

// calculatorHandler serves POST /api/v0/calculator/point: the calc point of
// a short-term machine-info body, as the node would store it.
func calculatorHandler(o Options) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b shortTermBody
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			if tooLarge(err) {
				writeError(w, http.StatusRequestEntityTooLarge, domain.CodeParameter, "body larger than "+byteSize(maxInfoBody))
				return
			}
			writeError(w, http.StatusBadRequest, domain.CodeParse, "body must be a short-term machine info JSON object: "+err.Error())
			return
		}
		info := domain.ShortTermInfo{CPUType: b.CPUType, CPURate: b.CPURate, GPUNames: b.GPUNames,
			GPUMemoryTotal: b.GPUMemoryTotal, MemoryTotal: b.MemoryTotal, Wallet: b.Wallet}
		point, err := score.Of(info, o.Geo.Catalog)
		switch code := domain.CodeOf(err); code {
		case domain.CodeOK:
			writeJSON(w, http.StatusOK, map[string]any{"code": code, "message": "ok", "calc_point": point})
		case domain.CodeParameter:
			writeError(w, http.StatusBadRequest, code, err.Error())
		case domain.CodeInvalidInfo:
			writeError(w, http.StatusUnprocessableEntity, code, err.Error())
		default:
			o.Logger.Error("score", zap.Error(err))
			writeError(w, http.StatusInternalServerError, code, "internal error")
		}
	}
}
