#!/usr/bin/env bash
# Identity: clear-text authentication from real programs, recorded for the identity parsers
# (proto::{krb5, ldap, dhcp, ntlmssp, cleartext}). An MIT Kerberos KDC with kinit over UDP and TCP
# (a good password, a wrong one: KDC_ERR_PREAUTH_FAILED, an unknown principal:
# KDC_ERR_C_PRINCIPAL_UNKNOWN), OpenLDAP slapd with ldapsearch simple binds (good and wrong
# password), a DHCP exchange (dnsmasq and busybox udhcpc with a host name and vendor class),
# an HTTP Basic request, an HTTP NTLM exchange (curl --ntlm: NTLMSSP AUTHENTICATE) and an
# SMB2 session setup with NTLM (Samba smbd and smbclient).
# The parsers are not wired into detection yet: this scenario checks that each program did
# what it should and, with SPANWATCH_LIVE_RECORD=1, writes tests/fixtures/live-identity.pcap, which tests/proto_identity.rs reads.
. "$(dirname "$0")/lib.sh"
live_init identity krb5-kdc krb5-user slapd ldap-utils dnsmasq-base udhcpc samba smbclient curl python3
live_netns

REALM=EXAMPLE.TEST
record_start 400 2000

# --- Kerberos KDC in swb -------------------------------------------------------------
export KRB5_KDC_PROFILE=$WORK/kdc.conf KRB5_CONFIG=$WORK/krb5.conf KRB5CCNAME=FILE:$WORK/cc
cat >"$KRB5_KDC_PROFILE" <<CFG
[kdcdefaults]
  kdc_ports = 88
  kdc_tcp_ports = 88
[realms]
  $REALM = {
    database_name = $WORK/principal
    key_stash_file = $WORK/stash
    acl_file = $WORK/kadm5.acl
    default_principal_flags = +preauth
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }
[logging]
  kdc = FILE:$WORK/kdc-file.log
CFG
krb5_conf() { # krb5_conf UDP_PREFERENCE_LIMIT
  cat >"$KRB5_CONFIG" <<CFG
[libdefaults]
  default_realm = $REALM
  dns_lookup_kdc = false
  dns_lookup_realm = false
  udp_preference_limit = $1
[realms]
  $REALM = {
    kdc = $B4
  }
CFG
}
krb5_conf 1465
: >"$WORK/kadm5.acl"
kdb5_util create -s -r $REALM -P master-pw >"$WORK/kdb5.log" 2>&1 || fail "kdb5_util create"
kadmin.local -r $REALM -q "addprinc -pw alice-pw alice" >>"$WORK/kdb5.log" 2>&1 || fail "addprinc alice"
bg_b kdc env KRB5_KDC_PROFILE="$KRB5_KDC_PROFILE" KRB5_CONFIG="$KRB5_CONFIG" krb5kdc -n
wait_port "$NS_B" 88 udp || fail "krb5kdc did not listen on 88/udp"

kinit_as() { # kinit_as PRINCIPAL PASSWORD
  echo "$2" | in_a env KRB5_CONFIG="$KRB5_CONFIG" KRB5CCNAME="$KRB5CCNAME" kinit "$1" >>"$WORK/kinit.log" 2>&1
}
check "kinit alice over UDP" kinit_as alice alice-pw
fails() { ! "$@"; }
check "kinit alice with a wrong password fails" fails kinit_as alice wrong-pw
check "kinit of an unknown principal fails" fails kinit_as mallory x
krb5_conf 1
check "kinit alice over TCP" kinit_as alice alice-pw

# --- OpenLDAP slapd in swb ----------------------------------------------------------
mkdir -p "$WORK/ldapdb"
cat >"$WORK/slapd.conf" <<CFG
include /etc/ldap/schema/core.schema
pidfile $WORK/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "dc=example,dc=test"
rootdn "cn=admin,dc=example,dc=test"
rootpw admin-pw
directory $WORK/ldapdb
CFG
bg_b slapd slapd -d 0 -f "$WORK/slapd.conf" -h "ldap://$B4:389/"
wait_port "$NS_B" 389 tcp || fail "slapd did not listen on 389"
ldap_bind() { in_a ldapwhoami -x -H "ldap://$B4" -D "cn=admin,dc=example,dc=test" -w "$1" >>"$WORK/ldap.log" 2>&1; }
check "ldap simple bind" ldap_bind admin-pw
check "ldap simple bind with a wrong password fails" fails ldap_bind nope

# --- DHCP: dnsmasq in swb, udhcpc in swa (the lease is not applied: -s /bin/true) -----
bg_b dnsmasq dnsmasq -d -p 0 --no-ping -i veth-b --bind-interfaces --dhcp-range=10.77.0.100,10.77.0.150,1h \
  --dhcp-leasefile="$WORK/leases" --pid-file="$WORK/dnsmasq.pid"
wait_port "$NS_B" 67 udp || fail "dnsmasq did not listen on 67"
dhcp_lease() {
  in_a udhcpc -i veth-a -n -q -f -t 5 -T 1 -s /bin/true -x hostname:laptop-a -V spanwatch-test \
    >"$WORK/udhcpc.log" 2>&1
}
check "udhcpc obtains a lease" dhcp_lease

# --- HTTP Basic: curl to a Python server in swb --------------------------------------
bg_b http python3 -m http.server --bind $B4 8080 --directory "$WORK/ldapdb"
wait_port "$NS_B" 8080 tcp || fail "http.server did not listen on 8080"
check "curl with basic auth" in_a curl -fsS -o /dev/null -u "carol:carol-pw" "http://$B4:8080/"

# --- HTTP NTLM: curl --ntlm to a server that sends a CHALLENGE (ntlm_http_server.py) --------
bg_b ntlm python3 "$LIVE_DIR/ntlm_http_server.py" $B4 8081
wait_port "$NS_B" 8081 tcp || fail "ntlm_http_server.py did not listen on 8081"
check "curl with NTLM auth" in_a curl -fsS -o /dev/null --ntlm -u 'TESTDOM\dave:dave-pw' "http://$B4:8081/"

# --- SMB2 with NTLM: smbd in swb (unknown users map to guest), smbclient in swa ----------
mkdir -p "$WORK/smb/share" "$WORK/smb/private" "$WORK/smb/state" "$WORK/smb/cache" "$WORK/smb/lock"
echo hello >"$WORK/smb/share/hello.txt"
cat >"$WORK/smb.conf" <<CFG
[global]
  workgroup = TESTDOM
  server role = standalone server
  map to guest = Bad User
  private dir = $WORK/smb/private
  lock directory = $WORK/smb/lock
  state directory = $WORK/smb/state
  cache directory = $WORK/smb/cache
  pid directory = $WORK/smb
  log file = $WORK/smb/log.%m
  interfaces = $B4
  bind interfaces only = yes
  smb ports = 445
  disable netbios = yes
  server min protocol = SMB2
[share]
  path = $WORK/smb/share
  guest ok = yes
  read only = yes
CFG
cat >"$WORK/smb-client.conf" <<CFG
[global]
  workgroup = TESTDOM
  netbios name = LAPTOP-A
  client min protocol = SMB2
  private dir = $WORK/smb/private
  lock directory = $WORK/smb/lock
  state directory = $WORK/smb/state
  cache directory = $WORK/smb/cache
CFG
bg_b smbd smbd --foreground --no-process-group --debug-stdout -s "$WORK/smb.conf"
wait_port "$NS_B" 445 tcp 20 || fail "smbd did not listen on 445"
smb_ls() {
  in_a env -u KRB5_CONFIG smbclient "//$B4/share" -s "$WORK/smb-client.conf" -U 'erin%erin-pw' \
    --use-kerberos=off -c ls >"$WORK/smbclient.log" 2>&1
}
check "smbclient lists the share with NTLM" smb_ls

live_finish
