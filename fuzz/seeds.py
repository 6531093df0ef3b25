"""Writes the seed corpora in fuzz/corpus/<target>/ (named by content hash, so
re-running adds nothing twice): every JSON sample in the provider documents
and in the clients' unit tests, the training simulators' fault answers, and
a few shapes no document shows (empty, HTML, cut-off JSON), each for every
endpoint of its target and, for refusals, several HTTP statuses.

    python3 fuzz/seeds.py <folder with the provider documents>

Input layout: see src-tauri/core/src/fuzzing.rs.
"""
import json, os, hashlib, struct, re, sys
DOCS=sys.argv[1]
ROOT=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT=os.path.join(ROOT,'fuzz','corpus')
def objects(text):
    out=[]
    for i,c in enumerate(text):
        if c not in '{[': continue
        depth=0; instr=False; esc=False
        for j in range(i,len(text)):
            ch=text[j]
            if instr:
                if esc: esc=False
                elif ch=='\\': esc=True
                elif ch=='"': instr=False
                continue
            if ch=='"': instr=True
            elif ch in '{[': depth+=1
            elif ch in '}]':
                depth-=1
                if depth==0:
                    cand=text[i:j+1]
                    try:
                        v=json.loads(cand)
                        if isinstance(v,(dict,list)) and len(cand)>8: out.append(cand)
                    except Exception: pass
                    break
    # keep outermost only
    res=[]
    for o in out:
        if not any(o!=p and o in p for p in out): res.append(o)
    return list(dict.fromkeys(res))
def write(target, data):
    d=os.path.join(OUT,target); os.makedirs(d,exist_ok=True)
    name=hashlib.sha1(data).hexdigest()
    open(os.path.join(d,name),'wb').write(data)
def enc(ep,status,body): return bytes([ep])+struct.pack('>H',status)+body
html=b'<html>\n<head><title>502 Bad Gateway</title></head>\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>'
extra=[b'', html, b'{"success": tru', b'null', b'[]', b'"text"', b'{}']
providers={
 'pesavoucher':(['pesavoucher-api.txt'],3,[200,400,401,404,500]),
 'telesend':(['telesend-gifts-api.txt'],3,[200,400,401,403,404,500]),
 'giftpesa':(['giftpesa-api.txt'],4,[200,400,401,429,500,503]),
 'pesapal':(['pesapal-api-3.txt'],6,[200,400,401,500]),
 'bitpesa':(['bitpesa-api.txt','bitpesa-authentication.txt'],8,[200,201,401,404,422,429,500]),
}
for name,(docs,eps,statuses) in providers.items():
    bodies=[]
    for d in docs:
        text=open(os.path.join(DOCS,d)).read()
        # Pesapal's samples carry a line number on every other line.
        text='\n'.join(l for l in text.split('\n') if not re.fullmatch(r'\s*\d{1,3}\s*', l))
        bodies+= [o.encode() for o in objects(text)]
    # The samples the client's own unit tests hold (from the same documents).
    src=open(os.path.join(ROOT,'src-tauri/core/src/providers/%s.rs'%name)).read()
    for lit in re.findall(r'r#"(.*?)"#', src, re.S):
        try:
            json.loads(lit); bodies.append(lit.encode())
        except Exception: pass
    for b in bodies+extra:
        for ep in range(eps):
            write(name,enc(ep,200,b))
        # Refusals go through one shared path per provider.
        for st in statuses[1:]:
            write(name,enc(0,st,b))
# webhook + money
bits=[lit.encode() for lit in re.findall(r'r#"(.*?)"#', open(os.path.join(ROOT,'src-tauri/core/src/providers/bitpesa.rs')).read(), re.S) if lit.lstrip().startswith('{')]
for b in bits+extra:
    write('bitpesa_webhook', b'\x00'+b)
    write('bitpesa_webhook', b'\x01'+b'0'*128+b)
for cur in range(6):
    for t in ['1000.00','2000.0','0','0.00','-12.5','750','0.1','0.30000000000000004','1e3','.5','-0','99999999999999.99','150000','12.345']:
        write('money', bytes([cur])+t.encode())
# The training simulators' fault answers (training/server.rs), verbatim.
sim_html=b'<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>'
reasons={401:'Unauthorized',403:'Forbidden',404:'Not Found',422:'Unprocessable Entity',429:'Too Many Requests',500:'Internal Server Error',502:'Bad Gateway',503:'Service Unavailable'}
for name,(docs,eps,statuses) in providers.items():
    for st,why in reasons.items():
        write(name,enc(0,st,json.dumps({"success":False,"error":why}).encode()))
        write(name,enc(0,st,sim_html))
    write(name,enc(0,429,b'{"success": false, "error": "Too many requests"}'))
    for ep in range(eps):
        write(name,enc(ep,200,b'{"success": true, "redemp'))
