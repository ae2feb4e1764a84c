# Flood measurement: the same phases as crates/cli/benches/flood.rs (idle, 64 operator sign-ins at a time, 64
# 2 MB PDF uploads at a time), driven from Python. Usage: python3 scripts/flood.py target/debug/sealdesk FORM.pdf
import subprocess, threading, time, requests, os, sys, re, tempfile, socket
BIN=sys.argv[1]; PDF=open(sys.argv[2],'rb').read()
d=tempfile.mkdtemp(); s=socket.socket(); s.bind(('127.0.0.1',0)); port=s.getsockname()[1]; s.close()
p=subprocess.Popen([BIN,'serve','--demo','--listen',f'127.0.0.1:{port}','--trusted-proxy','127.0.0.1','--data-dir',d],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL,env=dict(os.environ,RUST_LOG='warn'))
base=f'http://127.0.0.1:{port}'
for _ in range(600):
    try: requests.get(base+'/healthz',timeout=1); break
    except Exception: time.sleep(0.1)
def rss(f):
    for l in open(f'/proc/{p.pid}/status'):
        if l.startswith(f): return int(l.split()[1])/1024
sess=[]
for i in range(64):
    m=f'1390000{i:04d}'; ip=f'198.51.100.{i+1}'
    requests.post(base+'/api/v1/auth/sms-code',json={'mobile':m},headers={'x-forwarded-for':ip})
    t=requests.get(base+f'/api/v1/demo/outbox?mobile={m}').json()[0]['text']
    code=re.search(r'验证码为\D*(\d{6})',t).group(1)
    tok=requests.post(base+'/api/v1/auth/applicant',json={'mobile':m,'code':code},headers={'x-forwarded-for':ip}).json()['token']
    o=requests.post(base+'/api/v1/orders',headers={'authorization':'Bearer '+tok},json={"project":"testCSQY","service":"new","holder":{"kind":"enterprise","applicant_name":"李四","id_number":"11010519491231002X","mobile":m,"enterprise_name":"北筑设计研究院有限公司","enterprise_phone":"0791-82221588","credit_code":"91110108551385082Q","address":"北京市西城区南礼士路62号"},"seals":[{"kind":"official_seal","count":1}],"months":12}).json()
    sess.append((tok,o['id'],ip))
def phase(name,work,secs=12):
    open(f'/proc/{p.pid}/clear_refs','w').write('5')
    stop=threading.Event(); cnt=[0]
    ts=[threading.Thread(target=work,args=(i,stop,cnt)) for i in range(64)]
    [t.start() for t in ts]
    lat=[]; mx=0; t0=time.time()
    while time.time()-t0<secs:
        a=time.time()
        try: ok=requests.get(base+'/healthz',timeout=10).status_code==200
        except Exception: ok=False
        lat.append((time.time()-a)*1000 if ok else 10000); mx=max(mx,rss('VmRSS:')); time.sleep(0.02)
    stop.set(); [t.join(60) for t in ts]
    lat.sort(); q=lambda x: lat[round((len(lat)-1)*x)]
    print(f'| {name} | {cnt[0]} | {q(.5):.1f} | {q(.99):.1f} | {rss("VmHWM:"):.0f} | {mx:.0f} |',flush=True)
def idle(i,stop,cnt): stop.wait()
def logins(i,stop,cnt):
    n=0; S=requests.Session()
    while not stop.is_set():
        try: S.post(base+'/api/v1/auth/operator',json={'name':f'intruder{i}-{n}','password':'wrong'},headers={'x-forwarded-for':f'203.0.113.{i+1}'},timeout=60)
        except Exception: pass
        n+=1; cnt[0]+=1
def uploads(i,stop,cnt):
    tok,oid,ip=sess[i]; S=requests.Session()
    while not stop.is_set():
        try: S.post(base+f'/api/v1/orders/{oid}/uploads',headers={'authorization':'Bearer '+tok,'x-forwarded-for':ip},data={'kind':'impression_form'},files={'file':('form.pdf',PDF,'application/pdf')},timeout=60)
        except Exception: pass
        cnt[0]+=1
print(f'PDF {len(PDF)/1048576:.2f} MB, load {os.getloadavg()[0]:.1f}')
print('| phase | requests | /healthz p50 ms | /healthz p99 ms | RSS peak MB (VmHWM) | RSS max sampled MB |'); print('| --- | --- | --- | --- | --- | --- |')
phase('idle',idle); phase('operator sign-in flood',logins); phase('2 MB PDF upload flood',uploads)
print(f'load {os.getloadavg()[0]:.1f}')
p.kill()
