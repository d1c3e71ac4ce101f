"""The appliance's own sentences in an answer (a refusal, where a quote is from: not the
documents' words), in the language of the question: Japanese or Chinese for a question
written mostly in their characters (Japanese when it has kana: a Japanese question is often
a third kanji), else the language BM25 reads it in when that is clear (Embedder.language_of;
a short English question can lean Dutch by its stopwords) and there are sentences for it,
else English."""

from __future__ import annotations

import re

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_LETTER = re.compile(r"[^\W\d_]")

# The languages BM25 reads (index/languages.py) that have sentences here, by their code.
CODES = {
    "german": "de",
    "french": "fr",
    "spanish": "es",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
    "russian": "ru",
}

PHRASES = {
    "not_found": {
        "en": "I could not find anything about that in the indexed documents.",
        "zh": "在已索引的文档中没有找到与此相关的内容。",
        "ja": "インデックス済みの文書には、これに関する内容が見つかりませんでした。",
        "de": "In den indexierten Dokumenten habe ich dazu nichts gefunden.",
        "fr": "Je n’ai rien trouvé à ce sujet dans les documents indexés.",
        "es": "No encontré nada sobre eso en los documentos indexados.",
        "it": "Non ho trovato nulla al riguardo nei documenti indicizzati.",
        "pt": "Não encontrei nada sobre isso nos documentos indexados.",
        "nl": "Ik heb daarover niets gevonden in de geïndexeerde documenten.",
        "ru": "В проиндексированных документах об этом ничего не найдено.",
    },
    "nothing_indexed": {
        "en": (
            "Nothing is searchable yet: no document has been indexed. Add files to the "
            "knowledge folder, and ask again once they are indexed."
        ),
        "zh": (
            "还没有可以搜索的内容：尚未索引任何文档。请把文件放入知识库文件夹，索引完成后再提问。"
        ),
        "ja": (
            "まだ検索できる内容がありません。文書が一つもインデックスされていません。"
            "ナレッジフォルダにファイルを入れ、インデックスが終わってから、もう一度質問してください。"
        ),
        "de": (
            "Noch ist nichts durchsuchbar: Es wurde noch kein Dokument indexiert. Legen Sie "
            "Dateien in den Wissensordner und fragen Sie erneut, sobald sie indexiert sind."
        ),
        "fr": (
            "Rien n’est encore consultable : aucun document n’a été indexé. Ajoutez des "
            "fichiers au dossier de connaissances, puis reposez la question une fois indexés."
        ),
        "es": (
            "Todavía no hay nada que buscar: no se ha indexado ningún documento. Añada "
            "archivos a la carpeta de conocimiento y vuelva a preguntar cuando estén indexados."
        ),
        "it": (
            "Non c’è ancora nulla da cercare: nessun documento è stato indicizzato. Aggiungi "
            "dei file alla cartella della conoscenza e chiedi di nuovo quando sono indicizzati."
        ),
        "pt": (
            "Ainda não há nada pesquisável: nenhum documento foi indexado. Adicione arquivos "
            "à pasta de conhecimento e pergunte novamente quando estiverem indexados."
        ),
        "nl": (
            "Er is nog niets doorzoekbaar: er is nog geen document geïndexeerd. Zet bestanden "
            "in de kennismap en vraag het opnieuw zodra ze geïndexeerd zijn."
        ),
        "ru": (
            "Искать пока негде: ни один документ ещё не проиндексирован. Положите файлы в "
            "папку знаний и спросите снова, когда они будут проиндексированы."
        ),
    },
    "nothing_matches": {
        "en": (
            "No indexed document is in the folder or of the file types asked for. Check the "
            "folder's name (a sub-folder of the knowledge folder), or ask without them."
        ),
        "zh": (
            "所指定的文件夹或文件类型中没有已索引的文档。"
            "请检查文件夹名称（知识库文件夹的子文件夹），或不加限制再问。"
        ),
        "ja": (
            "指定されたフォルダーまたはファイルの種類には、インデックス済みの文書がありません。"
            "フォルダー名（ナレッジフォルダのサブフォルダー）を確かめるか、指定せずに質問してください。"
        ),
        "de": (
            "Im angegebenen Ordner bzw. unter den angegebenen Dateitypen ist kein Dokument "
            "indexiert. Prüfen Sie den Ordnernamen (ein Unterordner des Wissensordners) oder "
            "fragen Sie ohne diese Einschränkung."
        ),
        "fr": (
            "Aucun document indexé ne se trouve dans le dossier ou les types de fichiers "
            "demandés. Vérifiez le nom du dossier (un sous-dossier du dossier de "
            "connaissances), ou posez la question sans ce filtre."
        ),
        "es": (
            "No hay ningún documento indexado en la carpeta o los tipos de archivo indicados. "
            "Compruebe el nombre de la carpeta (una subcarpeta de la carpeta de conocimiento) "
            "o pregunte sin ese filtro."
        ),
        "it": (
            "Nessun documento indicizzato si trova nella cartella o nei tipi di file indicati. "
            "Controlla il nome della cartella (una sottocartella della cartella della "
            "conoscenza) o chiedi senza questo filtro."
        ),
        "pt": (
            "Nenhum documento indexado está na pasta ou nos tipos de arquivo indicados. "
            "Verifique o nome da pasta (uma subpasta da pasta de conhecimento) ou pergunte "
            "sem esse filtro."
        ),
        "nl": (
            "Er staat geen geïndexeerd document in de gevraagde map of van de gevraagde "
            "bestandstypen. Controleer de mapnaam (een submap van de kennismap) of vraag het "
            "zonder dit filter."
        ),
        "ru": (
            "В указанной папке или среди указанных типов файлов нет проиндексированных "
            "документов. Проверьте имя папки (подпапка папки знаний) или спросите без фильтра."
        ),
    },
    # Where a quote is from, when its file has pages.
    "outdated": {  # a quote's source that says of itself it no longer applies
        "en": "{where} (marked as no longer current)",
        "zh": "{where}（文档标注为已不再适用）",
        "ja": "{where}（文書に現在は無効と記載）",
        "de": "{where} (laut Dokument nicht mehr gültig)",
        "fr": "{where} (indiqué comme n’étant plus en vigueur)",
        "es": "{where} (marcado como ya no vigente)",
        "it": "{where} (indicato come non più in vigore)",
        "pt": "{where} (marcado como já não vigente)",
        "nl": "{where} (gemarkeerd als niet meer geldig)",
        "ru": "{where} (помечен как недействующий)",
    },
    "page": {
        "en": "{source}, page {page}",
        "zh": "{source}，第 {page} 页",
        "ja": "{source}、{page} ページ",
        "de": "{source}, Seite {page}",
        "fr": "{source}, page {page}",
        "es": "{source}, página {page}",
        "it": "{source}, pagina {page}",
        "pt": "{source}, página {page}",
        "nl": "{source}, pagina {page}",
        "ru": "{source}, стр. {page}",
    },
}


def language_of(text: str, read: str | None = None) -> str:
    """ "ja" or "zh" when at least a third of the letters are kanji or kana ("ja" with any
    kana); else the code of `read`, the language BM25 read the text in, when it has
    sentences here; else "en"."""
    letters = len(_LETTER.findall(text))
    kana = len(_KANA.findall(text))
    if not letters or (len(_HAN.findall(text)) + kana) * 3 < letters:
        return CODES.get(read or "", "en")
    return "ja" if kana else "zh"


def phrase(key: str, language: str) -> str:
    """The sentence `key` in `language` (a code, as language_of gives)."""
    return PHRASES[key][language]
