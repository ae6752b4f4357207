import VigilServer

await VigilMain.run()
