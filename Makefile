# Builds and installs netrepl and netrepl-server: release binaries, man pages, shell completions.
#   make install PREFIX=/usr DESTDIR=/tmp/stage     make uninstall (the same variables)
#   make deb (a Debian package, see scripts/package-deb)

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
SWIFT   ?= swift
# The Swift runtime linked in, so the installed programs need only libc and readline; symbols
# bound at load time and the relocations made read-only afterwards (full RELRO).
SWIFT_BUILD_FLAGS ?= -c release --static-swift-stdlib -Xlinker -z -Xlinker relro -Xlinker -z -Xlinker now
# A folder of already built products (such as .build/debug) installs without building.
PRODUCTS ?=

PROGRAMS := netrepl netrepl-server
SHELLS   := bash zsh fish
BUILT     = $(if $(PRODUCTS),$(PRODUCTS),$(shell $(SWIFT) build $(SWIFT_BUILD_FLAGS) --show-bin-path 2>/dev/null))
COMPLETIONS_DIR ?= .build/completions

# Each shell's own place for completions of installed commands.
completion_path = $(if $(filter bash,$(1)),$(DATADIR)/bash-completion/completions/$(2),$(if $(filter zsh,$(1)),$(DATADIR)/zsh/site-functions/_$(2),$(DATADIR)/fish/vendor_completions.d/$(2).fish))

INSTALLED := $(foreach p,$(PROGRAMS),$(BINDIR)/$(p) $(MANDIR)/man1/$(p).1 $(foreach s,$(SHELLS),$(call completion_path,$(s),$(p))))

.PHONY: all build install uninstall completions installed-files print-built deb test
all: build

build:
ifeq ($(PRODUCTS),)
	$(SWIFT) build $(SWIFT_BUILD_FLAGS) --product netrepl
	$(SWIFT) build $(SWIFT_BUILD_FLAGS) --product netrepl-server
endif

# Written by the programs themselves (swift-argument-parser), so they always match the options.
# The shells source these files, so a #! line has no use (and Debian's lintian warns about it).
completions: build
	@mkdir -p $(COMPLETIONS_DIR)
	@for p in $(PROGRAMS); do for s in $(SHELLS); do \
	    "$(BUILT)/$$p" --generate-completion-script $$s | sed '1{/^#!/d;}' > $(COMPLETIONS_DIR)/$$p.$$s || exit 1; \
	done; done

install: build completions
	@test -x "$(BUILT)/netrepl" || { echo "make install: no built netrepl in '$(BUILT)': run make build, or set PRODUCTS" >&2; exit 1; }
	@for p in $(PROGRAMS); do \
	    install -D -m 0755 "$(BUILT)/$$p" "$(DESTDIR)$(BINDIR)/$$p" && \
	    install -D -m 0644 man/$$p.1 "$(DESTDIR)$(MANDIR)/man1/$$p.1" || exit 1; \
	done
	$(foreach p,$(PROGRAMS),$(foreach s,$(SHELLS),install -D -m 0644 $(COMPLETIONS_DIR)/$(p).$(s) "$(DESTDIR)$(call completion_path,$(s),$(p))";))

# Exactly the files install wrote; folders are left, since others may share them.
uninstall:
	rm -f $(foreach f,$(INSTALLED),"$(DESTDIR)$(f)")

# Where the programs are built (for scripts).
print-built:
	@echo $(BUILT)

# The list install writes, one a line (tests and scripts/package-deb read it).
installed-files:
	@printf '%s\n' $(INSTALLED)

deb:
	scripts/package-deb

test:
	scripts/test
