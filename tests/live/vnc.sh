#!/usr/bin/env bash
# VNC: TigerVNC's Xtigervnc in swb on 5901 with a VNC password (security type 2, VncAuth);
# TigerVNC's vncviewer from swa under xvfb-run completes the RFB handshake and authentication.
. "$(dirname "$0")/lib.sh"
live_init vnc tigervnc-standalone-server tigervnc-tools tigervnc-viewer xvfb xauth
live_netns

mkdir -p "$WORK/vnc"
echo 'sw4tchVNC' | vncpasswd -f >"$WORK/vnc/passwd"
chmod 600 "$WORK/vnc/passwd"
# A display number nobody uses: X servers share /tmp/.X11-unix across namespaces.
disp=""
for d in $(seq 77 99); do [ -e "/tmp/.X$d-lock" ] || [ -e "/tmp/.X11-unix/X$d" ] || { disp=$d; break; }; done
[ -n "$disp" ] || skip "no free X display number between :77 and :99"
bg_b xtigervnc Xtigervnc ":$disp" -rfbport 5901 -interface $B4 -localhost=0 -SecurityTypes VncAuth \
  -rfbauth "$WORK/vnc/passwd" -geometry 800x600 -depth 24 -nolisten tcp -AlwaysShared
wait_port "$NS_B" 5901 tcp 10 || { fail "Xtigervnc did not listen on 5901"; sed 's/^/    Xtigervnc: /' "$WORK/xtigervnc.log" | tail; }

record_start 1200
start_spanwatch

# The viewer stays connected until killed: 6 s is enough for handshake, auth and a few updates.
in_a env HOME="$WORK" timeout 30 xvfb-run -a -s "-screen 0 1024x768x24" \
  timeout 6 vncviewer -passwd "$WORK/vnc/passwd" -Log '*:stderr:100' -FullScreen=0 $B4::5901 \
  >"$WORK/vncviewer.log" 2>&1
if grep -q "Authentication success" "$WORK/vncviewer.log"; then
  pass "vncviewer completed the RFB handshake and VncAuth"
else
  fail "vncviewer session"; sed 's/^/    vncviewer: /' "$WORK/vncviewer.log" | tail -15
fi

record_stop
stop_spanwatch

assert_flow vnc
assert_alert remote-access vnc
assert_alert remote-access vnc "has(r,'alert.metadata','003.008')"
# security type 2 = VNC Authentication (metadata may say 2, vnc-auth, VncAuth, ...)
assert_alert remote-access vnc "re.search(r'(?i)(\"2\"|\\b2\\b|vnc.?auth)', json.dumps(get(r,'alert.metadata')) ) is not None"
assert_metric_ge 'spanwatch_remote_access_sessions_total{tool="vnc",direction="internal"}' 1
live_finish
