package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/tui"
	"github.com/conclave-keys/conclave/tui/closing"
	"github.com/conclave-keys/conclave/tui/signing"
	"github.com/conclave-keys/conclave/tui/theme"
)

// programOptions open the terminal program on a ceremony.
type programOptions struct {
	Vault, In, Out, Resume string
	SoftkeyDir             string
	// Present is the projector mode; HighContrast the high-contrast theme.
	Present, HighContrast bool
	// Name is who operates, when known (the program asks otherwise).
	Name string
}

// runProgram opens the ceremony and walks the room through it in the
// terminal program (package tui). The tokens are logged out and the log
// closed however the program ends; a ceremony left before its close
// continues with --resume.
func runProgram(ctx context.Context, env *environment, o programOptions) error {
	in, inOK := env.stdin.(*os.File)
	out, outOK := env.stdout.(*os.File)
	if !inOK || !outOK || !isTerminal(in) || !isTerminal(out) {
		return usagef("without --script, the ceremony runs in the terminal program, which needs a terminal; to run it without one, give a ceremony script (--script FILE.yaml, docs/ceremony-script.md)")
	}
	bridge := signing.NewBridge()
	r, err := prepareCeremony(ceremonyOptions{
		Vault: o.Vault, In: o.In, Out: o.Out, Resume: o.Resume,
		Prompts:    bridge.Prompts,
		Notice:     io.Discard, // the program shows every request to the room itself
		SoftkeyDir: o.SoftkeyDir,
	})
	if err != nil {
		return err
	}
	defer r.Close()
	if r.Ended {
		fmt.Fprintf(env.stdout, "ceremony %s has ended: the vault's current generation %s holds its log\n", r.ID, r.V.Generation)
		return nil
	}
	th := theme.Detect(os.Getenv)
	th.Present, th.HighContrast = o.Present, o.HighContrast
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := tui.New(tui.Options{
		Engine:  &programEngine{r: r, out: o.Out, in: o.In},
		Theme:   theme.New(th),
		Name:    o.Name,
		Out:     o.Out,
		Context: pctx,
		Bridge:  bridge,
		List:    signing.ListTokens(r.V.Policy),
	})
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out))
	_, err = p.Run()
	cancel()
	m.Wipe()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return interrupted("the program stopped; everything done is in the ceremony's log, continue with: %s", programResume(r, o.Out, o.In))
	}
	if err != nil {
		return err
	}
	if m.Quit() && r.S != nil {
		fmt.Fprintf(env.stdout, "The ceremony %s stopped in state %s; everything done is in its log. Continue it with:\n  %s\n", r.ID, r.S.State(), programResume(r, o.Out, o.In))
	}
	return nil
}

// programResume is the command that continues the ceremony in the program.
func programResume(r *ceremonyRun, out, in string) string {
	args := []string{"conclave", "ceremony", "--resume", shellQuote(r.Journal), "--out", shellQuote(out)}
	if r.S == nil || r.S.State() == session.StatePreflight || r.S.State() == session.StateImport {
		args = append(args, "--in", shellQuote(in))
	}
	return strings.Join(args, " ")
}

// programEngine gives the program the ceremony's steps, done as the
// headless driver does them (ceremonyRun).
type programEngine struct {
	r       *ceremonyRun
	out, in string
}

func (e *programEngine) CeremonyID() string        { return e.r.ID }
func (e *programEngine) Journal() string           { return e.r.Journal }
func (e *programEngine) Vault() *vault.Vault       { return e.r.V }
func (e *programEngine) Session() *session.Session { return e.r.S }
func (e *programEngine) Start(o session.Opening) error {
	return e.r.start(o)
}
func (e *programEngine) Checks() (*preflight.Report, []session.Check) { return preflightChecks() }
func (e *programEngine) Import() error                                { return e.r.importBundle() }
func (e *programEngine) Resume() string                               { return programResume(e.r, e.out, e.in) }

func (e *programEngine) Export(ctx context.Context) ([]closing.File, error) {
	files, sums, err := e.r.export(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]closing.File, 0, len(files))
	for _, f := range files {
		out = append(out, closing.File{Name: f.Name, SHA256: sums[f.Name], Size: len(f.Data)})
	}
	return out, nil
}

func (e *programEngine) Finish(ctx context.Context) (*closing.Summary, error) {
	name, err := e.r.writeGeneration(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	s := e.r.S
	sum := &closing.Summary{CeremonyID: e.r.ID, State: s.State(), Head: s.Head(), Lines: s.Lines(), Progress: s.Progress()}
	if name != "" {
		nv, err := e.r.openCurrent()
		if err != nil {
			return nil, err
		}
		sum.Generation, sum.GenerationHash = nv.Generation, nv.Hash
	}
	return sum, nil
}
