package domain

// DetailError is a sentinel error with a detail the client may see ("invalid
// machine info: gpu_names[0] ... is not in the GPU catalog"), so adapters
// answer more than the sentinel's words without exposing internal context.
type DetailError struct {
	Err    error
	Detail string
}

func (e *DetailError) Error() string { return e.Err.Error() + ": " + e.Detail }

// Unwrap makes a DetailError match its sentinel (and so its wire code).
func (e *DetailError) Unwrap() error { return e.Err }
