package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/airgap/preflight"
	"github.com/conclave-keys/conclave/ceremony/session"
	"github.com/conclave-keys/conclave/ceremony/vault"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/internal/termtext"
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
	// Prompts answer the tokens instead of the holders (a rehearsal's
	// throwaway PINs); nil: the holders type them into the program.
	Prompts func(holder string) hsm.Prompts
}

// runProgram opens the ceremony and walks the room through it in the
// terminal program (package tui). The tokens are logged out and the log
// closed however the program ends; a ceremony left before its close
// continues with --resume. The result says where everything went; its
// Generation is empty when the ceremony was left before its end.
func runProgram(ctx context.Context, env *environment, o programOptions) (*headlessResult, error) {
	in, _ := env.stdin.(*os.File)
	out, _ := env.stdout.(*os.File)
	if !isTerminalReader(env.stdin) || !isTerminal(env.stdout) {
		return nil, usagef("without --script, the ceremony runs in the terminal program, which needs a terminal; to run it without one, give a ceremony script (--script FILE.yaml, docs/ceremony-script.md)")
	}
	bridge := signing.NewBridge()
	prompts := o.Prompts
	if prompts == nil {
		prompts = bridge.Prompts
	}
	r, err := prepareCeremony(ceremonyOptions{
		Vault: o.Vault, In: o.In, Out: o.Out, Resume: o.Resume,
		Prompts:    prompts,
		Notice:     io.Discard, // the program shows every request to the room itself
		SoftkeyDir: o.SoftkeyDir,
	})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res := &headlessResult{CeremonyID: r.ID, Journal: r.Journal, Export: o.Out}
	if r.Ended {
		fmt.Fprintf(env.stdout, "ceremony %s has ended: the vault's current generation %s holds its log\n", termtext.Safe(r.ID), termtext.Safe(r.V.Generation))
		res.Generation = r.V.Generation
		return res, nil
	}
	th := theme.Detect(os.Getenv)
	th.Present, th.HighContrast = o.Present, o.HighContrast
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e := &programEngine{r: r, out: o.Out, in: o.In}
	m := tui.New(tui.Options{
		Engine:  e,
		Theme:   theme.New(th),
		Name:    o.Name,
		Out:     o.Out,
		Context: pctx,
		Bridge:  bridge,
		List:    signing.ListTokens(r.V.Policy),
	})
	f := &inFlight{}
	p := tea.NewProgram(tracked{m, f}, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out))
	_, err = p.Run()
	cancel()
	// The log is closed (deferred) only once no command writes to it.
	f.wait()
	m.Wipe()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return res, interrupted("the program stopped; everything done is in the ceremony's log, continue with: %s", termtext.Safe(programResume(r, o.Out, o.In)))
	}
	if err != nil {
		return res, err
	}
	if m.Quit() && r.S != nil {
		fmt.Fprintf(env.stdout, "The ceremony %s stopped in state %s; everything done is in its log. Continue it with:\n  %s\n", termtext.Safe(r.ID), r.S.State(), termtext.Safe(programResume(r, o.Out, o.In)))
	}
	res.Generation = e.generation
	if r.S != nil {
		res.Head, res.Lines = r.S.Head(), r.S.Lines()
	}
	return res, nil
}

// inFlight counts the program's commands while they run. A command (a
// signature, the build, a note, the export) runs in its own goroutine and
// may outlive the program's event loop; the session has no lock, so the
// log is closed only once none runs, and none starts after.
type inFlight struct {
	mu     sync.Mutex
	closed bool
	n      sync.WaitGroup
}

// track wraps c so that it is counted while it runs, and does not run once
// wait has been called. The commands of a batch are tracked in turn.
func (f *inFlight) track(c tea.Cmd) tea.Cmd {
	if c == nil {
		return nil
	}
	return func() tea.Msg {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return nil
		}
		f.n.Add(1)
		f.mu.Unlock()
		defer f.n.Done()
		msg := c()
		if b, ok := msg.(tea.BatchMsg); ok {
			t := make(tea.BatchMsg, len(b))
			for i, c := range b {
				t[i] = f.track(c)
			}
			return t
		}
		return msg
	}
}

// wait refuses new commands and returns once those running have ended.
func (f *inFlight) wait() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.n.Wait()
}

// tracked is the program with its commands counted by f.
type tracked struct {
	*tui.Model
	f *inFlight
}

func (t tracked) Init() tea.Cmd { return t.f.track(t.Model.Init()) }

func (t tracked) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, c := t.Model.Update(msg)
	return t, t.f.track(c)
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
	// generation is the vault generation Finish wrote.
	generation string
	// headSigned are the holders who signed the log's head.
	headSigned []string
}

func (e *programEngine) CeremonyID() string        { return e.r.ID }
func (e *programEngine) Journal() string           { return e.r.Journal }
func (e *programEngine) Vault() *vault.Vault       { return e.r.V }
func (e *programEngine) Session() *session.Session { return e.r.S }
func (e *programEngine) Start(o session.Opening) error {
	return e.r.start(o)
}
func (e *programEngine) Checks() (*preflight.Report, []session.Check) { return preflightChecks(e.r.V) }
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

// Close closes the exported ceremony.
func (e *programEngine) Close(context.Context) error {
	if e.r.S.State() != session.StateExport {
		return nil
	}
	return e.r.close()
}

// SignHead has one holder sign the closed log's head, as close.sign_head
// of a script does (ceremonyRun.signHeadAs).
func (e *programEngine) SignHead(ctx context.Context, holder string) error {
	if err := e.r.signHeadAs(ctx, holder); err != nil {
		return err
	}
	e.headSigned = append(e.headSigned, holder)
	return nil
}

func (e *programEngine) Finish(ctx context.Context) (*closing.Summary, error) {
	name, hash, err := e.r.writeGeneration(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	s := e.r.S
	e.generation = name
	return &closing.Summary{CeremonyID: e.r.ID, State: s.State(), Head: s.Head(), Lines: s.Lines(), Progress: s.Progress(),
		Generation: name, GenerationHash: hash, HeadSigned: slices.Clone(e.headSigned)}, nil
}
