package domain

// TextError is a sentinel error answered with a text of its own (the
// original node's words, "calculate gpu point failed ..."), so adapters send
// exactly that text with the sentinel's wire code.
type TextError struct {
	Err  error
	Text string
}

func (e *TextError) Error() string { return e.Text }

// Unwrap makes a TextError match its sentinel (and so its wire code).
func (e *TextError) Unwrap() error { return e.Err }
