#!/bin/sh
# From the shared recipe (shared/recipes/request-tracker.md), kept here so that a clean
# clone has it. Needs the Debian packages request-tracker5 rt5-db-sqlite rt5-standalone.
# Bring up a throw-away RT 5 (Debian request-tracker5) on 127.0.0.1 with SQLite.
# Usage: rt-test-up.sh DIR PORT   -> prints "PID TOKEN" on success
set -eu
D=${1:?dir}; PORT=${2:?port}
mkdir -p "$D/etc/RT_SiteConfig.d" "$D/var/mason_data" "$D/var/session_data"
cat > "$D/etc/RT_SiteConfig.pm" <<CONF
Set(\$rtname, 'rt.test');
Set(\$Organization, 'test');
Set(\$CorrespondAddress, 'rt@localhost');
Set(\$CommentAddress, 'rt-comment@localhost');
Set(\$DatabaseType, 'SQLite');
Set(\$DatabaseName, '$D/var/rt5.db');
Set(\$WebDomain, '127.0.0.1');
Set(\$WebPort, $PORT);
Set(\$WebPath, '');
Set(\$WebBaseURL, 'http://127.0.0.1:$PORT');
Set(\$Timezone, 'UTC');
Set(\$LogToSyslog, undef);
Set(\$LogToFile, undef);
Set(\$LogToSTDERR, 'warning');
Set(\$MailCommand, 'mbox');          # outgoing mail -> $D/var/*.mbox, no MTA used
\$RT::VarPath         = '$D/var';
\$RT::MasonDataDir    = '$D/var/mason_data';
\$RT::MasonSessionDir = '$D/var/session_data';
1;
CONF
export RT_SITE_CONFIG="$D/etc/RT_SiteConfig.pm" RT_SITE_CONFIG_DIR="$D/etc/RT_SiteConfig.d"
/usr/sbin/rt-setup-database-5 --action init --skip-create --force </dev/null >"$D/init.log" 2>&1
# API token for root + a ticket custom field "ExternalID" applied to queue General
perl -I/usr/share/request-tracker5/lib -MRT -e '
  RT::LoadConfig(); RT::Init();
  my $u = RT::User->new(RT->SystemUser); $u->Load("root") or die "no root";
  my ($id, $msg, $auth) = RT::AuthToken->new(RT->SystemUser)->Create(Owner => $u->Id, Description => "tests");
  die "token: $msg" unless $id;
  my $cf = RT::CustomField->new(RT->SystemUser);
  my ($ok, $m) = $cf->Create(Name => "ExternalID", Type => "FreeformSingle", LookupType => "RT::Queue-RT::Ticket");
  die "cf: $m" unless $ok;
  my $q = RT::Queue->new(RT->SystemUser); $q->Load("General");
  ($ok, $m) = $cf->AddToObject($q); die "apply: $m" unless $ok;
  print "$auth\n";' 2>>"$D/init.log" >"$D/token"
setsid /usr/share/request-tracker5/libexec/rt-server --host 127.0.0.1 --port "$PORT" --server Standalone \
    </dev/null >"$D/server.log" 2>&1 &
echo $! >"$D/server.pid"
i=0
until curl -s -o /dev/null http://127.0.0.1:$PORT/REST/2.0/; do
  i=$((i+1)); [ $i -gt 300 ] && { echo "RT did not start" >&2; cat "$D/server.log" >&2; exit 1; }
  sleep 0.1
done
echo "$(cat "$D/server.pid") $(cat "$D/token")"
