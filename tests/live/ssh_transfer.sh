#!/usr/bin/env bash
# SSH used three ways, each recorded to tell them apart by shape: file copies (scp and sftp
# up and down, rsync -e ssh, git push to a bare repository served by the sshd), port
# forwards carrying several exchanges (-L, -R, -D), a session typed key by key and one typed
# while its -L forward carries three downloads. All
# from swa to a real OpenSSH server in swb. A copy is `transfer` (no tunnel alert, its
# bytes go to the host stage as any upload); a forward is `forwarding` (tunnel alert); the
# typed session is `interactive` (nothing).
. "$(dirname "$0")/lib.sh"
live_init ssh_transfer openssh-server openssh-client rsync git curl python3
live_netns

# SSH_TRANSFER_KB: size of each copied file (the recording keeps only headers anyway)
SIZE=$((${SSH_TRANSFER_KB:-256} * 1024))
mkdir -p "$WORK/srv" "$WORK/cli" "$WORK/www" "$WORK/wwwa"
sshd_start
# scp, sftp and rsync take the port differently; the options are the same.
OPTS=(-F none -i "$WORK/ssh/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no
      -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5)
SCP=(scp "${OPTS[@]}" -P 2222)
SFTP=(sftp "${OPTS[@]}" -P 2222)
RSH="ssh ${OPTS[*]} -p 2222"
head -c $SIZE /dev/urandom >"$WORK/cli/up.bin"
head -c $SIZE /dev/urandom >"$WORK/srv/down.bin"
for i in 1 2 3 4 5 6; do head -c 20000 /dev/urandom >"$WORK/www/p$i"; head -c 20000 /dev/urandom >"$WORK/wwwa/p$i"; done
bg_b http sh -c "cd '$WORK/www' && exec python3 -m http.server --bind 127.0.0.1 8000"
bg_a httpa sh -c "cd '$WORK/wwwa' && exec python3 -m http.server --bind 127.0.0.1 8001"
wait_port "$NS_B" 8000 || fail "http.server did not listen on 8000 in swb"
wait_port "$NS_A" 8001 || fail "http.server did not listen on 8001 in swa"
# the repository pushed to: a bare one in swb, a working copy with one commit in swa
git init -q --bare "$WORK/srv/repo.git"
git -C "$WORK/cli" init -q -b main repo
head -c $SIZE /dev/urandom >"$WORK/cli/repo/blob.bin"
git -C "$WORK/cli/repo" add blob.bin
git -C "$WORK/cli/repo" -c user.name=t -c user.email=t@example.invalid commit -q -m blob

record_start 20000 128
start_spanwatch

same() { cmp -s "$1" "$2"; }
# 1. copies: each its own SSH connection, a short pause between them
in_a timeout 30 "${SCP[@]}" "$WORK/cli/up.bin" root@$B4:"$WORK/srv/scp_up.bin"
check "scp upload, bytes identical" same "$WORK/cli/up.bin" "$WORK/srv/scp_up.bin"
sleep 0.3
in_a timeout 30 "${SCP[@]}" root@$B4:"$WORK/srv/down.bin" "$WORK/cli/scp_down.bin"
check "scp download, bytes identical" same "$WORK/srv/down.bin" "$WORK/cli/scp_down.bin"
sleep 0.3
printf 'put %s %s\n' "$WORK/cli/up.bin" "$WORK/srv/sftp_up.bin" >"$WORK/sftp_put"
in_a timeout 30 "${SFTP[@]}" -b "$WORK/sftp_put" root@$B4 >"$WORK/sftp_put.log" 2>&1
check "sftp upload, bytes identical" same "$WORK/cli/up.bin" "$WORK/srv/sftp_up.bin"
sleep 0.3
printf 'get %s %s\n' "$WORK/srv/down.bin" "$WORK/cli/sftp_down.bin" >"$WORK/sftp_get"
in_a timeout 30 "${SFTP[@]}" -b "$WORK/sftp_get" root@$B4 >"$WORK/sftp_get.log" 2>&1
check "sftp download, bytes identical" same "$WORK/srv/down.bin" "$WORK/cli/sftp_down.bin"
sleep 0.3
in_a timeout 30 rsync -e "$RSH" "$WORK/cli/up.bin" root@$B4:"$WORK/srv/rsync_up.bin"
check "rsync -e ssh upload, bytes identical" same "$WORK/cli/up.bin" "$WORK/srv/rsync_up.bin"
sleep 0.3
in_a timeout 30 env GIT_SSH_COMMAND="$RSH" git -C "$WORK/cli/repo" push -q root@$B4:"$WORK/srv/repo.git" main
check "git push over ssh reached the bare repository" \
  test "$(git -C "$WORK/srv/repo.git" rev-parse main)" = "$(git -C "$WORK/cli/repo" rev-parse main)"
sleep 0.3

# 2. forwards, each carrying six requests a moment apart
bg_a ssh-L timeout 60 "${SSH[@]}" -N -L 127.0.0.1:18000:127.0.0.1:8000 root@$B4
wait_port "$NS_A" 18000 tcp 10 || fail "ssh -L did not open 127.0.0.1:18000"
ok=0
for i in 1 2 3 4 5 6; do
  in_a timeout 10 curl -fsS -o "$WORK/cli/L$i" http://127.0.0.1:18000/p$i && same "$WORK/www/p$i" "$WORK/cli/L$i" && ok=$((ok + 1))
  sleep 0.2
done
check "six downloads through ssh -L" test $ok = 6
kill -TERM -- "-${BG_PIDS[-1]}" 2>/dev/null

bg_a ssh-R timeout 60 "${SSH[@]}" -N -R 127.0.0.1:19000:127.0.0.1:8001 root@$B4
wait_port "$NS_B" 19000 tcp 10 || fail "ssh -R did not open 127.0.0.1:19000 on the server"
ok=0
for i in 1 2 3 4 5 6; do
  in_b timeout 10 curl -fsS -o "$WORK/srv/R$i" http://127.0.0.1:19000/p$i && same "$WORK/wwwa/p$i" "$WORK/srv/R$i" && ok=$((ok + 1))
  sleep 0.2
done
check "six downloads through ssh -R (from the server's side)" test $ok = 6
kill -TERM -- "-${BG_PIDS[-1]}" 2>/dev/null

bg_a ssh-D timeout 60 "${SSH[@]}" -N -D 127.0.0.1:11080 root@$B4
wait_port "$NS_A" 11080 tcp 10 || fail "ssh -D did not open 127.0.0.1:11080"
ok=0
for i in 1 2 3 4 5 6; do
  in_a timeout 10 curl -fsS --socks5-hostname 127.0.0.1:11080 -o "$WORK/cli/D$i" http://127.0.0.1:8000/p$i && same "$WORK/www/p$i" "$WORK/cli/D$i" && ok=$((ok + 1))
  sleep 0.2
done
check "six downloads through the ssh -D SOCKS proxy" test $ok = 6
kill -TERM -- "-${BG_PIDS[-1]}" 2>/dev/null

# 3. a person typing on a terminal, one key at a time
out=$(in_a timeout 60 python3 "$LIVE_DIR/type_slowly.py" --line 'uname -n' --line 'ls / | head -3' \
        --line 'echo typed by hand' --line exit -- "${SSH[@]}" -tt root@$B4 2>&1)
case $out in *"typed by hand"*) pass "interactive ssh session ran typed commands";;
  *) fail "interactive ssh session: $out";; esac
sleep 0.5

# 4. the same typing in a session that also forwards (-L): three downloads through it meanwhile
in_a timeout 60 python3 "$LIVE_DIR/type_slowly.py" --seed 11 --line 'uname -n' --line 'sleep 3' \
        --line 'echo typed beside a forward' --line exit -- "${SSH[@]}" -tt -L 127.0.0.1:18002:127.0.0.1:8000 root@$B4 \
        >"$WORK/typed_fwd.log" 2>&1 &
typed=$!
wait_port "$NS_A" 18002 tcp 10 || fail "ssh -tt -L did not open 127.0.0.1:18002"
ok=0
for i in 1 2 3; do
  in_a timeout 10 curl -fsS -o "$WORK/cli/T$i" http://127.0.0.1:18002/p$i && same "$WORK/www/p$i" "$WORK/cli/T$i" && ok=$((ok + 1))
  sleep 0.3
done
check "three downloads through the forward of a typed session" test $ok = 3
wait $typed
check "the typed session with a forward ran its commands" grep -q "typed beside a forward" "$WORK/typed_fwd.log"
sleep 0.5

record_stop
stop_spanwatch

# Port 2222 sessions by shape: six copies, three forwards, a typed session, a typed session
# with a forward in use.
shapes() { python3 - "$EVE" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ssh = sorted((r["flow"]["start"], r["src_port"], r.get("ssh", {}).get("shape")) for r in recs
             if r.get("event_type") == "flow" and r.get("app_proto") == "ssh")
tunnel = {r["src_port"]: r["alert"]["signature_id"] for r in recs
          if r.get("event_type") == "alert" and r["alert"]["category"] == "tunnel"}
got = [(s, tunnel.get(p)) for _, p, s in ssh]
# one tunnel alert per client, server and port (the output deduplicates): on the first forward
want = [("transfer", None)] * 6 + [("forwarding", 9300004)] + [("forwarding", None)] * 2 + [("interactive", None), ("forwarding", None)]
print("    sessions in order (shape, tunnel alert):", got)
sys.exit(0 if got == want and len(tunnel) == 1 else 1)
PY
}
check "copies are transfer with no alert, forwards are forwarding with a tunnel alert, typing is interactive" shapes
assert_flow ssh "get(r,'ssh.shape')=='transfer' and get(r,'ssh.transfer.direction')=='to_server' and r['flow']['bytes_toserver']>$SIZE"
assert_flow ssh "get(r,'ssh.shape')=='transfer' and get(r,'ssh.transfer.direction')=='to_client' and r['flow']['bytes_toclient']>$SIZE"
live_finish
