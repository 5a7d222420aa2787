#!/bin/sh
# Legacy macOS LoginHook for devmount: the same job as the LaunchAgent `devmount autostart install` writes,
# for people who already manage logins with a hook (Apple deprecated LoginHooks in 10.4; prefer the agent).
#
# Install:  sudo defaults write com.apple.loginwindow LoginHook /path/to/devmount/scripts/macos-loginhook.sh
# Remove:   sudo defaults delete com.apple.loginwindow LoginHook
#
# loginwindow runs the hook as root with the short name of the user logging in as $1 and waits for it before
# the desktop appears, so the mounts are started in the background, as that user, and the hook returns at once.
# `devmount up` waits for the network itself (--wait) and never prompts (there is no terminal): use a key
# without a passphrase (IdentityFile=… in the config's "options") or one in the login keychain's ssh-agent.
set -eu

user="${1:?usage: $0 USER (run by loginwindow as a LoginHook)}"
home=$(dscl . -read "/Users/$user" NFSHomeDirectory | sed 's/^NFSHomeDirectory: //')
log="$home/Library/Logs/devmount-loginhook.log"
wait_seconds="${DEVMOUNT_LOGINHOOK_WAIT:-120}"

# The devmount entry script next to this one (scripts/ and bin/ ship together in the package); the node binary
# from the user's PATH as a login shell sees it, since the hook's own PATH is minimal.
here=$(cd "$(dirname "$0")" && pwd)
devmount="$here/../bin/devmount.js"

sudo -u "$user" -H /bin/sh -c '
  mkdir -p "$(dirname "$1")"
  exec /bin/zsh -lc "exec node \"\$0\" up --wait \"\$1\"" "$2" "$3" >> "$1" 2>&1
' sh "$log" "$devmount" "$wait_seconds" &

exit 0
